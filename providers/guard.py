"""Bulkhead and circuit breaker around every call to one provider, so one bad provider
never starves the rest of the provider worker's threads.

A call first asks the provider's breaker (``betguard.providers.breaker``): open, it is refused
at once with :class:`CircuitOpen`. Then it takes one of the provider's concurrency
slots (``betguard.providers.bulkhead``), before the rate limiter's slot (which the adapter takes
per HTTP attempt): all taken, it is refused with :class:`ProviderBusy`. Both are
``ProviderUnavailable``: the check records a provider error and is rescheduled like
an outage; a cancel refused at the deadline sends the bet to review.

Redis is consulted before the call and written after it. Before, a Redis failure
refuses the call (:class:`GuardUnavailable`, fail closed): the limit promised to the
provider cannot be checked, and refusing only delays (a check is rescheduled, a cancel
goes to a person), never decides anything about money. After, a Redis failure is
logged and the provider's answer stands (fail open): an answer may settle a bet, and
a lost count only delays the breaker; the slot's lease frees it.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from datetime import datetime
from enum import Enum, StrEnum
from types import TracebackType
from typing import Protocol, TypeVar

import redis

from betguard.providers.base import BetStatus, CancelOutcome, HistoryPage, Provider
from betguard.providers.breaker import CLOSED, Admission, BreakerState, admit
from betguard.providers.bulkhead import Bulkhead, SharedSlots
from betguard.providers.deadline import attempt_seconds
from betguard.providers.errors import (
    CircuitOpen,
    GuardUnavailable,
    ProviderBusy,
    ProviderError,
    ProviderGuarded,
    ProviderInvalidResponse,
    ProviderUnavailable,
)
from betguard.providers.ratelimit import RateLimited

log = logging.getLogger(__name__)
T = TypeVar("T")
# A slot taken later than this after asking for it was waited for (a free slot is
# taken in one Redis round trip).
SLOT_WAITED = 0.01
# How long a group's calls share the admission read when the group began: a call later
# asks the breaker itself (one Redis round trip), so that the calls of a group that
# began before other calls went unanswered do not go out as a fresh wave. Most groups
# of a provider that answers are over by then.
SHARED_ADMISSION = 0.25


class Outcome(Enum):
    ANSWERED = "answered"  # the provider answered (a refusal or a malformed answer too)
    NO_ANSWER = "no_answer"  # timeout, connection error, 5xx: the breaker counts it
    NO_VERDICT = "no_verdict"  # the call never reached the provider, or failed on our side


class Refusal(StrEnum):
    BUSY = "busy"  # every concurrency slot taken
    OPEN = "open"  # circuit breaker open (or its trial call, or its probe, in flight)
    UNAVAILABLE = "unavailable"  # Redis could not be asked: refused to stay safe


def outcome_of(error: BaseException | None) -> Outcome:
    """What a call's ending tells the breaker about the provider."""
    if error is None or isinstance(error, ProviderInvalidResponse):
        return Outcome.ANSWERED
    if isinstance(error, ProviderGuarded | RateLimited):
        return Outcome.NO_VERDICT
    if isinstance(error, ProviderUnavailable):
        return Outcome.NO_ANSWER
    if isinstance(error, ProviderError):
        return Outcome.ANSWERED  # refused with a 4xx: it answered
    return Outcome.NO_VERDICT


def call_lease(*, connect_timeout: float, read_timeout: float, attempts: int,
               rate_wait: float = 0.0, retry_wait: float = 1.0, margin: float = 5.0) -> float:
    """The longest one HTTP call can hold a slot: per attempt its whole-attempt deadline
    (``betguard.providers.deadline``: connecting, headers and body, the socket shut down
    when it passes) and the rate limiter's wait, tenacity's waits between attempts, and a
    margin. A lease never runs out under a live call: every attempt ends by its deadline,
    however slowly the provider sends (the read timeout alone bounds only each read)."""
    per_attempt = attempt_seconds(connect_timeout=connect_timeout,
                                  read_timeout=read_timeout) + rate_wait
    return attempts * per_attempt + (attempts - 1) * retry_wait + margin


class Breaker(Protocol):  # betguard.providers.breaker.RedisBreaker
    def read(self) -> tuple[BreakerState, float]: ...
    def admit(self, *, trial_lease: float) -> tuple[Admission, BreakerState]: ...
    def failed(self, *, lease: float, trial: bool = False) -> bool: ...
    def answered(self) -> None: ...
    def trial_abandoned(self, *, lease: float) -> None: ...


class GuardListener(Protocol):
    """Told of refusals and openings (the worker's metrics)."""

    def refused(self, provider: str, reason: Refusal) -> None: ...
    def opened(self, provider: str) -> None: ...


class GuardedProvider:
    """A provider whose calls pass its breaker and its bulkhead first."""

    def __init__(self, inner: Provider, *, bulkhead: Bulkhead, breaker: Breaker, lease: float,
                 listener: GuardListener | None = None) -> None:
        self.inner = inner
        self.name = inner.name
        self.supports_batch = inner.supports_batch
        self.capabilities = inner.capabilities
        self.feeds = inner.feeds
        self._bulkhead = bulkhead
        self._breaker = breaker
        self._lease = lease
        self._listener = listener
        self._slot_wait: float | None = None  # None: the bulkhead's own (refused at once)
        self._slots: SharedSlots | None = None  # a group's slots, handed on between its calls
        self._shared_admission: tuple[Admission, BreakerState] | None = None
        self._shared_until = 0.0  # the shared admission is not used after this
        self._group_failed = False  # a call of this group went unanswered

    def guard_state(self) -> tuple[str, int]:
        """The breaker's mode (``closed``, ``half_open``, ``open``) and the bulkhead's
        slots in use now, as Redis holds them for every worker (the console shows them;
        raises ``redis.RedisError`` when Redis does not answer)."""
        state, now = self._breaker.read()
        return state.mode(now).name.lower(), self._bulkhead.holders()

    def for_group(self, *, slot_wait: float) -> GuardedProvider:
        """This provider for one group of calls made together (the checks of a group,
        ``betguard.services.batch_checks``); use it as a context manager, whose end hands
        the group's slots back.

        Each call waits up to ``slot_wait`` seconds for a concurrency slot, and a call
        that ends hands its slot on to the group's next call (``SharedSlots``). While the
        breaker is closed the calls share one admission, read now (a failure still
        counts, an answer still resets), for ``SHARED_ADMISSION`` seconds; once a call of
        the group went unanswered, and after that time, each later call asks again, so
        that failures counted meanwhile (by any worker) hold the rest to one probe at a
        time, and a breaker that opened stops them. A breaker that is not closed is asked
        by each call, so that exactly one trial goes out."""
        view = copy.copy(self)
        view._slot_wait = max(0.0, slot_wait)
        view._slots = SharedSlots(self._bulkhead, call_lease=self._lease)
        try:
            state, now = self._breaker.read()
        except redis.RedisError:
            return view  # each call asks, and is refused while the breaker is unreadable
        if admit(state, now, trial_lease=self._lease)[0] is Admission.CALL:
            view._shared_admission = (Admission.CALL, state)
            view._shared_until = time.monotonic() + SHARED_ADMISSION
        return view

    def __enter__(self) -> GuardedProvider:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """A group view's end: the slots its calls handed on go back (a call still
        running gives its own back when it ends)."""
        if self._slots is None:
            return
        try:
            self._slots.close()
        except redis.RedisError as exc:  # their leases free them
            log.warning("provider %s: concurrency slots not released: %s", self.name, exc)

    def get_status(self, bet_ref: str, player_id: str = "") -> BetStatus:
        return self._guarded(lambda: self.inner.get_status(bet_ref, player_id), calls=1)

    def get_statuses(self, bet_refs: list[str]) -> dict[str, BetStatus]:
        # Without batch support the adapter asks one bet at a time: one slot, held longer.
        calls = 1 if self.supports_batch else max(1, len(set(bet_refs)))
        return self._guarded(lambda: self.inner.get_statuses(bet_refs), calls=calls)

    def cancel(self, bet_ref: str, player_id: str = "") -> CancelOutcome:
        return self._guarded(lambda: self.inner.cancel(bet_ref, player_id), calls=1)

    def fetch_history(self, feed: str, cursor: str | None) -> HistoryPage:
        return self._guarded(lambda: self.inner.fetch_history(feed, cursor), calls=1)

    def fetch_history_window(self, start: datetime, end: datetime) -> HistoryPage:
        return self._guarded(lambda: self.inner.fetch_history_window(start, end), calls=1)

    def _guarded(self, call: Callable[[], T], *, calls: int) -> T:
        lease = self._lease * calls
        fresh = not self._group_failed and time.monotonic() < self._shared_until
        shared = self._shared_admission if fresh else None
        admission, seen = shared or self._admit(lease)
        slots = self._slots if calls == 1 else None
        asked = time.monotonic()
        token = self._take_slot(lease, trial=admission is Admission.TRIAL, slots=slots)
        try:
            if admission is Admission.CALL and time.monotonic() - asked > SLOT_WAITED:
                # The slot came free while we waited: the call that held it may have
                # gone unanswered, and the provider may still hold it. Ask again, so
                # that the calls waiting for slots do not go out as a fresh wave.
                admission, seen = self._admit(lease)
            try:
                result = call()
            except BaseException as exc:
                self._record(outcome_of(exc), admission, seen, lease)
                raise
            self._record(Outcome.ANSWERED, admission, seen, lease)
            return result
        finally:
            self._release(token, slots)

    def _admit(self, lease: float) -> tuple[Admission, BreakerState]:
        try:
            admission, seen = self._breaker.admit(trial_lease=lease)
        except redis.RedisError as exc:
            self._refused(Refusal.UNAVAILABLE)
            raise GuardUnavailable(
                f"provider {self.name}: circuit breaker unreadable, no call made: {exc}") from exc
        if admission is Admission.REFUSE:
            self._refused(Refusal.OPEN)
            if seen.open_until == 0.0:  # closed, probing: one call at a time
                raise CircuitOpen(f"provider {self.name}: {seen.failures} calls in a row "
                                  "without an answer, one call at a time and one is in "
                                  "flight; no call made")
            raise CircuitOpen(f"provider {self.name}: circuit breaker open after "
                              f"{seen.failures} calls in a row without an answer; no call made")
        if admission is Admission.TRIAL:
            log.info("provider %s: %s, making a trial call", self.name,
                     "circuit breaker half-open" if seen.open_until else
                     f"{seen.failures} calls in a row without an answer")
        return admission, seen

    def _take_slot(self, lease: float, *, trial: bool, slots: SharedSlots | None) -> str:
        try:
            if slots is not None:
                return slots.take(wait=self._slot_wait)
            return self._bulkhead.acquire(lease=lease, wait=self._slot_wait)
        except (ProviderBusy, redis.RedisError) as exc:
            busy = isinstance(exc, ProviderBusy)
            self._refused(Refusal.BUSY if busy else Refusal.UNAVAILABLE)
            self._abandon(trial, lease)
            if busy:
                raise
            raise GuardUnavailable(
                f"provider {self.name}: concurrency limit unreadable, no call made: {exc}"
            ) from exc

    def _record(self, outcome: Outcome, admission: Admission, seen: BreakerState,
                lease: float) -> None:
        trial = admission is Admission.TRIAL
        try:
            if outcome is Outcome.NO_ANSWER:
                self._group_failed = self._shared_admission is not None
                if self._breaker.failed(lease=lease, trial=trial):
                    log.warning("provider %s: circuit breaker opened: calls in a row got no "
                                "answer", self.name)
                    if self._listener is not None:
                        self._listener.opened(self.name)
            elif outcome is Outcome.ANSWERED and (trial or seen != CLOSED
                                                  or self._group_failed):
                # With nothing counted when the call was admitted there is nothing to
                # reset: a failure counted meanwhile is reset by the next call's answer
                # (in a group sharing one admission, by the next answer in the group).
                self._breaker.answered()
                if trial:
                    log.info("provider %s: trial call answered, circuit breaker closed",
                             self.name)
            elif outcome is Outcome.NO_VERDICT and trial:
                self._breaker.trial_abandoned(lease=lease)
        except redis.RedisError as exc:
            log.warning("provider %s: circuit breaker not updated (%s): %s", self.name,
                        outcome.value, exc)

    def _abandon(self, trial: bool, lease: float) -> None:
        if not trial:
            return
        try:
            self._breaker.trial_abandoned(lease=lease)
        except redis.RedisError as exc:  # its lease frees the trial
            log.warning("provider %s: trial call not handed back: %s", self.name, exc)

    def _release(self, token: str, slots: SharedSlots | None) -> None:
        try:
            if slots is not None:
                slots.give_back(token)
            else:
                self._bulkhead.release(token)
        except redis.RedisError as exc:  # its lease frees the slot
            log.warning("provider %s: concurrency slot not released: %s", self.name, exc)

    def _refused(self, reason: Refusal) -> None:
        if self._listener is not None:
            self._listener.refused(self.name, reason)
