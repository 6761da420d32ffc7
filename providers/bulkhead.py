"""A per-provider concurrency limit shared by every worker: a counting semaphore in Redis.

Each provider call holds one of the provider's ``limit`` slots while it is in flight,
so a provider that hangs holds at most ``limit`` worker threads, whatever the number
of its bets: the other providers keep the rest. A caller that finds every slot taken
gives up at once with :class:`ProviderBusy` (or after ``wait`` seconds, if given): its
check is rescheduled like an outage, instead of queueing behind the calls that hang.
Waiting is not the default because it is paid by every refused check, on a thread:
with a provider hanging, hundreds of its checks come due together, and a 0.1 s wait
each kept an 8-thread worker's other providers waiting for seconds (bench: isolation).
A group of checks (``betguard.services.batch_checks``) waits a little: it pays once for
all its bets, on one worker thread.

Slots are leases: members of a sorted set scored by their expiry on Redis' clock, so
the slot of a worker killed mid-call frees itself when its lease runs out. The lease
covers the longest a call can take (each attempt's whole-attempt deadline, retries,
rate-limit waits: ``betguard.providers.guard.call_lease``), so a live call never
outlives it, however slowly the provider sends.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Protocol

import redis

from betguard.providers.errors import ProviderBusy

# Takes a slot if one is free: drops expired leases, then adds the caller's token
# scored by its expiry (microseconds on Redis' clock). Returns 1 when taken, 0 when
# every slot is held, -1 while the counts start full after a new master (below), each
# with the server's run_id. The key lives as long as its longest lease.
#
# The epoch (KEYS[2]): which server granted the slots (its run_id), and the longest
# lease granted. A server that finds another's name there took over from it -- a
# promoted replica, which may never have received the last slots the old master
# granted (replication is asynchronous), or a restart -- so it grants nothing until
# the longest lease has run out: every slot granted before is over by then. A Redis
# with no epoch at all is new, or lost everything: it holds the same way when the
# caller saw another server before (ARGV[4], its last run_id), and starts at once for
# a caller that saw none (a new deployment). docs/high-availability.md.
_ACQUIRE = """
local limit = tonumber(ARGV[1])
local lease = tonumber(ARGV[2])
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local server = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
local epoch = redis.call('HMGET', KEYS[2], 'server', 'until', 'lease')
local longest = math.max(lease, tonumber(epoch[3]) or 0)
local before = epoch[1] or (ARGV[4] ~= '' and ARGV[4]) or server
if epoch[1] ~= server then
  local hold = now
  if before ~= server then hold = now + longest end
  redis.call('HSET', KEYS[2], 'server', server, 'until', hold, 'lease', longest)
  if hold > now then return {-1, server} end
elseif now < tonumber(epoch[2]) then
  return {-1, server}
elseif lease > tonumber(epoch[3]) then
  redis.call('HSET', KEYS[2], 'lease', lease)
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= limit then return {0, server} end
redis.call('ZADD', KEYS[1], now + lease, ARGV[3])
local keep = math.ceil(lease / 1000) + 1000
if redis.call('PTTL', KEYS[1]) < keep then redis.call('PEXPIRE', KEYS[1], keep) end
return {1, server}
"""

DEFAULT_WAIT = 0.0  # seconds a caller waits for a slot before giving up
POLL_INTERVAL = 0.02


class RedisBulkhead:
    """At most ``limit`` holders of ``key`` at once, across every process."""

    def __init__(self, client: redis.Redis, *, key: str, limit: int, wait: float = DEFAULT_WAIT,
                 poll: float = POLL_INTERVAL, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        self._client = client
        self.key = key
        self.limit = limit
        self._wait = wait
        self._poll = poll
        self._sleep = sleep
        self._clock = clock
        self.epoch_key = f"{key}:epoch"
        self._server = ""  # the run_id of the Redis server that last answered
        self._script = client.register_script(_ACQUIRE)

    def acquire(self, *, lease: float, wait: float | None = None) -> str:
        """Take a slot for at most ``lease`` seconds and return its token; raise
        :class:`ProviderBusy` if none frees up within ``wait`` seconds (None: the
        bulkhead's own wait)."""
        token = secrets.token_hex(8)
        lease_us = max(1, int(lease * 1_000_000))
        give_up = self._clock() + (self._wait if wait is None else wait)
        while True:
            answer, server = self._script(keys=[self.key, self.epoch_key],
                                          args=[self.limit, lease_us, token, self._server])
            taken, self._server = int(answer), _text(server)
            if taken == 1:
                return token
            if self._clock() >= give_up:
                if taken < 0:
                    raise ProviderBusy(f"{self.key}: a new Redis master counts every slot "
                                       "taken until the old master's leases have run out")
                raise ProviderBusy(f"all {self.limit} concurrency slots of {self.key} are taken")
            self._sleep(self._poll)

    def release(self, token: str) -> None:
        self._client.zrem(self.key, token)

    def release_many(self, tokens: Sequence[str]) -> None:
        if tokens:
            self._client.zrem(self.key, *tokens)

    def holders(self) -> int:
        """Slots held now, expired leases aside (for tests and operators)."""
        now_s, now_us = self._client.time()
        now = now_s * 1_000_000 + now_us
        return int(self._client.zcount(self.key, f"({now}", "+inf"))

    @contextmanager
    def slot(self, *, lease: float) -> Iterator[str]:
        token = self.acquire(lease=lease)
        try:
            yield token
        finally:
            self.release(token)


class Bulkhead(Protocol):  # RedisBulkhead, as the guard uses it
    def acquire(self, *, lease: float, wait: float | None = None) -> str: ...
    def release(self, token: str) -> None: ...
    def release_many(self, tokens: Sequence[str]) -> None: ...
    def holders(self) -> int: ...


class SharedSlots:
    """The slots of one group of calls made together (``betguard.providers.guard``'s group
    view): a call hands its slot on to the group's next call instead of back to Redis,
    so a group of many calls, a few at a time, takes a few slots and gives them all
    back at once when it ends (``close``). Each slot is held by one call at a time, so
    the group never has more calls in flight than slots; a call still running when the
    group ends gives its own slot back when it returns.

    A slot is leased for two calls' time (``2 * call_lease``) and handed on only to a
    call that starts within the first: every call ends inside the lease, and a slot of
    a worker killed mid-group frees itself as soon as two calls' leases allow.

    While a call of the group waits on the bulkhead for a slot, a slot given back goes
    to the bulkhead, not idle: kept idle, no waiting call would see it, and two groups
    each holding idle slots while their waiting calls poll for more would wait for each
    other until the calls' wait ran out.
    """

    def __init__(self, bulkhead: Bulkhead, *, call_lease: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._bulkhead = bulkhead
        self._call_lease = call_lease
        self.lease = 2 * call_lease
        self._clock = clock
        self._lock = threading.Lock()
        self._usable_until: dict[str, float] = {}  # every slot taken, until when it is handed on
        self._idle: list[str] = []  # returned by their calls, to hand on
        self._spent: list[str] = []  # past handing on: they go back when the group ends
        self._waiting = 0  # calls of the group waiting on the bulkhead for a slot
        self._closed = False

    def take(self, *, wait: float | None) -> str:
        now = self._clock()
        with self._lock:
            while self._idle:
                token = self._idle.pop()
                if now < self._usable_until[token]:
                    return token
                self._spent.append(token)
            self._waiting += 1
        try:
            token = self._bulkhead.acquire(lease=self.lease, wait=wait)
        finally:
            with self._lock:
                self._waiting -= 1
        with self._lock:
            self._usable_until[token] = now + self._call_lease
        return token

    def give_back(self, token: str) -> None:
        with self._lock:
            if not self._closed and not self._waiting:
                self._idle.append(token)
                return
        self._bulkhead.release(token)

    def close(self) -> None:
        """The group is over: its idle and spent slots go back to Redis, in one call."""
        with self._lock:
            self._closed = True
            unused = self._idle + self._spent
            self._idle, self._spent = [], []
        self._bulkhead.release_many(unused)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
