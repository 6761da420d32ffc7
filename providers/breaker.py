"""A circuit breaker per provider, shared by every worker through Redis.

The breaker asks one question: does the provider answer? Calls that get no answer
(timeouts, connection errors, 5xx after tenacity's retries) are counted; after
``threshold`` of them in a row it opens for ``cooldown`` seconds and calls are refused
at once, without HTTP, so a provider that hangs cannot hold a worker's threads. Once
the cooldown is over it is half-open: one caller makes a trial call (the others are
still refused); an answer closes it, no answer opens it again. Any answer (a 4xx or a
malformed body included) resets the count: a provider that answers holds no thread.

While failures are counted and the breaker is still closed, calls go out one at a time
too (a probe, granted as the trial is): the calls that went unanswered may still be held
by the provider, and a fresh wave of ``max_concurrency`` calls every read timeout would
pile more onto it before the count reaches the threshold (with the defaults, 4 calls at
once could never open a breaker of 5 in one round). A probe answered closes the breaker
at once; a probe unanswered counts, and frees the next probe.

The state machine is pure (``admit``, ``after_failure``) and tested with an injected
clock; :class:`RedisBreaker` stores its state in one Redis hash, read and written on
Redis' clock (``TIME``) so every worker agrees, changed by compare-and-set (WATCH).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum, IntEnum

import redis
from redis.typing import EncodableT, FieldT


class Mode(IntEnum):
    """The breaker's mode, as exported to Prometheus (``betguard_provider_breaker_state``)."""

    CLOSED = 0  # calls go through (one at a time once failures are counted)
    HALF_OPEN = 1  # the cooldown is over: one trial call decides
    OPEN = 2  # calls are refused until the cooldown is over


class Admission(Enum):
    CALL = "call"  # closed: call the provider
    TRIAL = "trial"  # half-open, or closed after failures: this caller makes the one call
    REFUSE = "refuse"  # open, or another caller's trial is in flight


@dataclass(frozen=True)
class BreakerState:
    failures: int = 0  # calls in a row without an answer
    open_until: float = 0.0  # when the cooldown ends (Redis time, s); 0: never opened
    trial_until: float = 0.0  # a trial call is in flight until then (its lease)

    def mode(self, now: float) -> Mode:
        if self.open_until == 0.0:
            return Mode.CLOSED
        return Mode.OPEN if now < self.open_until else Mode.HALF_OPEN


CLOSED = BreakerState()


def admit(state: BreakerState, now: float, *, trial_lease: float) -> tuple[Admission, BreakerState]:
    """May a call go out now? Closed with nothing counted: yes. Otherwise (half-open, or
    closed with calls in a row unanswered) a trial is granted to one caller at a time,
    for ``trial_lease`` s; open: no."""
    mode = state.mode(now)
    if mode is Mode.CLOSED and state.failures == 0:
        return Admission.CALL, state
    if mode is Mode.OPEN or now < state.trial_until:
        return Admission.REFUSE, state
    return Admission.TRIAL, dataclasses.replace(state, trial_until=now + trial_lease)


def after_failure(state: BreakerState, now: float, *, threshold: int,
                  cooldown: float, trial: bool = False) -> BreakerState:
    """One more call without an answer: open (or reopen, after a trial) at the threshold.
    A failure while already open (a call that left before it opened) changes nothing else.
    A trial's own failure (``trial``) frees the next trial; another call's leaves it."""
    failures = state.failures + 1
    if failures >= threshold and state.mode(now) is not Mode.OPEN:
        return BreakerState(failures=failures, open_until=now + cooldown, trial_until=0.0)
    trial_until = 0.0 if trial else state.trial_until
    return dataclasses.replace(state, failures=failures, trial_until=trial_until)


def without_trial(state: BreakerState) -> BreakerState:
    """The trial call never reached the provider (or ended with no verdict): another may."""
    return dataclasses.replace(state, trial_until=0.0)


# Compare-and-set rounds before giving up on a contended update (each round is one
# competing writer's change landing first; a handful is plenty).
CAS_ROUNDS = 16
# How long an idle breaker's state is kept beyond what its cooldown and trial need:
# failures spread over more than this no longer count as "in a row".
IDLE_SECONDS = 3600


class RedisBreaker:
    """One provider's breaker in the Redis hash ``key``. Redis errors propagate: the
    caller (``betguard.providers.guard``) decides whether they refuse or let the call through."""

    def __init__(self, client: redis.Redis, *, key: str, threshold: int,
                 cooldown: float) -> None:
        if threshold < 1 or cooldown <= 0:
            raise ValueError("threshold must be at least 1 and cooldown positive")
        self._client = client
        self.key = key
        self.threshold = threshold
        self.cooldown = cooldown

    def read(self) -> tuple[BreakerState, float]:
        """The stored state and Redis' clock, in one round trip."""
        pipe = self._client.pipeline(transaction=False)
        pipe.hgetall(self.key)
        pipe.time()
        raw, clock = pipe.execute()
        return _decode(raw), _seconds(clock)

    def mode(self) -> Mode:
        state, now = self.read()
        return state.mode(now)

    def admit(self, *, trial_lease: float) -> tuple[Admission, BreakerState]:
        """Closed or open is read in one round trip; only a trial is written."""
        state, now = self.read()
        admission, _ = admit(state, now, trial_lease=trial_lease)
        if admission is not Admission.TRIAL:
            return admission, state
        granted: list[Admission] = []

        def take_trial(current: BreakerState, at: float) -> BreakerState:
            verdict, changed = admit(current, at, trial_lease=trial_lease)
            granted.append(verdict)
            return changed

        self._update(take_trial, trial_lease)
        return granted[-1], state

    def failed(self, *, lease: float, trial: bool = False) -> bool:
        """Count a call without an answer (``trial``: the trial's own); true when this
        failure opened the breaker."""
        seen: list[tuple[Mode, Mode]] = []

        def fail(current: BreakerState, at: float) -> BreakerState:
            changed = after_failure(current, at, threshold=self.threshold,
                                    cooldown=self.cooldown, trial=trial)
            seen.append((current.mode(at), changed.mode(at)))
            return changed

        self._update(fail, lease)
        return bool(seen) and seen[-1][0] is not Mode.OPEN and seen[-1][1] is Mode.OPEN

    def answered(self) -> None:
        """The provider answered: closed, count reset."""
        self._client.delete(self.key)

    def trial_abandoned(self, *, lease: float) -> None:
        self._update(lambda current, _at: without_trial(current), lease)

    def _update(self, change: Callable[[BreakerState, float], BreakerState],
                lease: float) -> BreakerState:
        """Apply ``change`` to the stored state atomically (WATCH/MULTI, retried)."""
        with self._client.pipeline() as pipe:
            for _ in range(CAS_ROUNDS):
                try:
                    pipe.watch(self.key)  # type: ignore[no-untyped-call]  # untyped in redis-py
                    current, now = _decode(pipe.hgetall(self.key)), _seconds(pipe.time())
                    changed = change(current, now)
                    if changed == current:
                        pipe.unwatch()
                        return current
                    pipe.multi()
                    pipe.hset(self.key, mapping=_encode(changed))
                    pipe.expire(self.key, int(self.cooldown + lease + IDLE_SECONDS))
                    pipe.execute()
                    return changed
                except redis.WatchError:
                    continue
        raise redis.RedisError(f"{self.key}: too many concurrent updates")


def _decode(raw: Mapping[bytes | str, bytes | str]) -> BreakerState:
    def number(name: str) -> float:
        value = raw.get(name.encode(), raw.get(name))
        return float(value) if value is not None else 0.0

    return BreakerState(failures=int(number("failures")), open_until=number("open_until"),
                        trial_until=number("trial_until"))


def _encode(state: BreakerState) -> dict[FieldT, EncodableT]:
    return {"failures": str(state.failures), "open_until": repr(state.open_until),
            "trial_until": repr(state.trial_until)}


def _seconds(clock: tuple[int, int]) -> float:
    return clock[0] + clock[1] / 1_000_000
