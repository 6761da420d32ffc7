"""A per-provider request rate shared by every worker: GCRA in Redis.

Each HTTP request to a provider (tenacity's retries included) takes a slot first.
Slots are spaced 1/rate apart on Redis' own clock, so however many workers and
threads wait, the provider never sees more than ``rate`` requests in any second —
the backlog after an outage drains at the pace the provider agreed to.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import redis

from providers.errors import ProviderUnavailable

# Returns 0 when the caller may go now, else how many microseconds to wait first.
# GCRA ("generic cell rate algorithm"): the key holds the theoretical arrival time
# of the next request; Redis' TIME keeps every worker on one clock.
_GCRA = """
local interval = tonumber(ARGV[1])
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
if tat > now then return tat - now end
redis.call('SET', KEYS[1], tat + interval, 'PX', math.ceil(interval / 1000) + 1000)
return 0
"""


class RateLimited(ProviderUnavailable):
    """Raised when no request slot came free in time; the check is tried again later."""


class RedisRateLimiter:
    def __init__(self, client: redis.Redis, *, key: str, rate: float, max_wait: float = 30.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be positive, not {rate}")
        self._client = client
        self._key = key
        self._interval_us = int(1_000_000 / rate)
        self._max_wait = max_wait
        self._sleep = sleep
        self._script = client.register_script(_GCRA)

    def acquire(self) -> None:
        """Wait for this caller's slot; raise ``RateLimited`` past ``max_wait``."""
        waited = 0.0
        while True:
            wait_us = int(self._script(keys=[self._key], args=[self._interval_us]))
            if wait_us == 0:
                return
            if waited >= self._max_wait:
                raise RateLimited(f"no request slot for {self._key} within {self._max_wait} s")
            # Sleep until our turn, but not much beyond: others may take slots meanwhile.
            pause = min(wait_us / 1_000_000, self._max_wait - waited, 1.0)
            self._sleep(pause)
            waited += pause
