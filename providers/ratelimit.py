"""A per-provider request rate shared by every worker: GCRA in Redis.

Each HTTP request to a provider (tenacity's retries included) takes a slot first.
Slots are spaced just over 1/rate apart on Redis' own clock, so however many workers
and threads wait, the provider never sees more than ``rate`` requests in any second —
the backlog after an outage drains at the pace the provider agreed to.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import redis

from betguard.providers.errors import GuardUnavailable, ProviderUnavailable

# Reserves the caller's slot and returns how many microseconds to wait for it (0: go
# now), or -1 when the slot is further away than the caller will wait (nothing is
# reserved then). GCRA ("generic cell rate algorithm"): the key holds the theoretical
# arrival time of the next request; Redis' TIME keeps every worker on one clock. Each
# caller takes its own slot in one call, so waiting callers never race for the same
# slot (no thundering herd, one Redis call per request).
#
# The epoch (KEYS[2]), as the bulkhead's: a server that finds another's run_id there took
# over from it and may lack the last reservations it made, each at most the longest
# wait (the horizon) ahead. It moves the next free slot past that horizon, so no
# request lands on a slot the old master handed out; a Redis without an epoch starts at
# once.
_GCRA = """
local interval = tonumber(ARGV[1])
local max_wait = tonumber(ARGV[2])
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local server = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
local epoch = redis.call('HMGET', KEYS[2], 'server', 'horizon')
local horizon = math.max(max_wait, tonumber(epoch[2]) or 0)
local before = epoch[1] or (ARGV[3] ~= '' and ARGV[3]) or server
if epoch[1] ~= server then
  redis.call('HSET', KEYS[2], 'server', server, 'horizon', horizon)
  if before ~= server then
    local past = now + horizon + interval
    if tonumber(redis.call('GET', KEYS[1]) or 0) < past then
      redis.call('SET', KEYS[1], past, 'PX', math.ceil((horizon + interval) / 1000) + 1000)
    end
  end
elseif max_wait > tonumber(epoch[2]) then
  redis.call('HSET', KEYS[2], 'horizon', max_wait)
end
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local wait = tat - now
if wait > max_wait then return {-1, server} end
redis.call('SET', KEYS[1], tat + interval, 'PX', math.ceil((wait + interval) / 1000) + 1000)
return {wait, server}
"""


# Slots are spaced a little wider than 1/rate: ``rate`` of them span 1 s plus this
# allowance, so a request that leaves its slot up to this late (a busy worker, the
# network) still never makes ``rate`` + 1 arrive within one second at the provider.
JITTER_ALLOWANCE = 0.05
# A caller that wakes up later than this after its slot takes another one.
LATE_TOLERANCE = 0.02


class RateLimited(ProviderUnavailable):
    """Raised when no request slot came free in time; the check is tried again later."""


class RedisRateLimiter:
    def __init__(self, client: redis.Redis, *, key: str, rate: float, max_wait: float = 30.0,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be positive, not {rate}")
        self._client = client
        self._key = key
        self._interval_us = int(1_000_000 * (1 + JITTER_ALLOWANCE) / rate)
        self._max_wait = max_wait
        self._sleep = sleep
        self._clock = clock
        self._epoch_key = f"{key}:epoch"
        self._server = ""  # the run_id of the Redis server that last answered
        self._script = client.register_script(_GCRA)

    def acquire(self) -> None:
        """Take this caller's slot and wait for it; raise ``RateLimited`` if the next free
        slot is more than ``max_wait`` away. A caller that wakes up well after its slot
        (a busy machine) gives it up and takes the next free one: sent late, its request
        would crowd the slots of the callers after it."""
        give_up = self._clock() + self._max_wait
        while True:
            asked = self._clock()
            budget_us = int(max(0.0, give_up - asked) * 1_000_000)
            try:
                answer, server = self._script(keys=[self._key, self._epoch_key],
                                              args=[self._interval_us, budget_us, self._server])
            except redis.RedisError as exc:  # fail closed: no slot, no request
                raise GuardUnavailable(f"the rate limit {self._key} cannot be consulted "
                                       f"({type(exc).__name__}): not called") from exc
            wait_us = int(answer)
            self._server = server.decode() if isinstance(server, bytes) else server
            if wait_us < 0:
                raise RateLimited(f"no request slot for {self._key} within {self._max_wait} s")
            # Counted from before the call: Redis reserved the slot at least this early,
            # so a caller held up on its way back (the interpreter lock of a busy
            # worker) sees that it is late, instead of sending late on a slot it
            # believes it is on time for.
            slot = asked + wait_us / 1_000_000
            if wait_us:
                self._sleep(wait_us / 1_000_000)
            if self._clock() - slot <= LATE_TOLERANCE:
                return
