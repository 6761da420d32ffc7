"""The circuit breaker's state machine and the guard around provider calls, with an
injected clock and in-memory fakes of the Redis-backed breaker and bulkhead."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest
import redis

from betguard.providers.base import (
    GENERIC_CAPABILITIES,
    BetStatus,
    CancelOutcome,
    Capability,
    ProviderStatus,
)
from betguard.providers.breaker import (
    CLOSED,
    Admission,
    BreakerState,
    Mode,
    admit,
    after_failure,
    without_trial,
)
from betguard.providers.bulkhead import SharedSlots
from betguard.providers.deadline import attempt_seconds
from betguard.providers.errors import (
    CircuitOpen,
    GuardUnavailable,
    ProviderBusy,
    ProviderInvalidResponse,
    ProviderRejected,
    ProviderUnavailable,
)
from betguard.providers.guard import GuardedProvider, Outcome, Refusal, call_lease, outcome_of
from betguard.providers.ratelimit import RateLimited

THRESHOLD, COOLDOWN, LEASE = 3, 30.0, 10.0


def failures(count: int, now: float = 0.0, state: BreakerState = CLOSED) -> BreakerState:
    for _ in range(count):
        state = after_failure(state, now, threshold=THRESHOLD, cooldown=COOLDOWN)
    return state


# -- the state machine ------------------------------------------------------------------

def test_a_closed_breaker_lets_calls_through_and_counts_failures_in_a_row() -> None:
    assert admit(CLOSED, 0.0, trial_lease=LEASE)[0] is Admission.CALL
    state = failures(THRESHOLD - 1)

    assert state.mode(0.0) is Mode.CLOSED and state.failures == THRESHOLD - 1


def test_after_a_call_without_an_answer_calls_go_one_at_a_time_until_the_breaker_opens(
) -> None:
    first, probing = admit(failures(1), 0.0, trial_lease=LEASE)
    second, _ = admit(probing, 1.0, trial_lease=LEASE)

    assert probing.mode(0.0) is Mode.CLOSED
    assert (first, second) == (Admission.TRIAL, Admission.REFUSE)


def test_a_probe_left_unanswered_frees_the_next_probe_and_counts_towards_opening() -> None:
    _, probing = admit(failures(1), 0.0, trial_lease=LEASE)

    state = after_failure(probing, 1.0, threshold=THRESHOLD, cooldown=COOLDOWN, trial=True)

    assert state.failures == 2 and admit(state, 1.0, trial_lease=LEASE)[0] is Admission.TRIAL


def test_a_call_that_left_before_the_probe_failing_keeps_the_probe_in_flight() -> None:
    _, probing = admit(failures(1), 0.0, trial_lease=LEASE)

    state = after_failure(probing, 1.0, threshold=THRESHOLD, cooldown=COOLDOWN)

    assert admit(state, 1.0, trial_lease=LEASE)[0] is Admission.REFUSE


def test_the_breaker_opens_at_the_threshold_and_refuses_calls_for_the_cooldown() -> None:
    state = failures(THRESHOLD, now=100.0)

    assert state.mode(100.0) is Mode.OPEN and state.open_until == 100.0 + COOLDOWN
    assert admit(state, 100.0 + COOLDOWN - 0.001, trial_lease=LEASE)[0] is Admission.REFUSE


def test_after_the_cooldown_exactly_one_caller_is_granted_the_trial_call() -> None:
    state = failures(THRESHOLD, now=0.0)

    first, state = admit(state, COOLDOWN, trial_lease=LEASE)
    second, _ = admit(state, COOLDOWN + 1.0, trial_lease=LEASE)

    assert state.mode(COOLDOWN) is Mode.HALF_OPEN
    assert (first, second) == (Admission.TRIAL, Admission.REFUSE)


def test_a_trial_whose_caller_vanished_is_granted_again_when_its_lease_runs_out() -> None:
    _, state = admit(failures(THRESHOLD), COOLDOWN, trial_lease=LEASE)

    assert admit(state, COOLDOWN + LEASE, trial_lease=LEASE)[0] is Admission.TRIAL


def test_a_failed_trial_opens_the_breaker_for_another_cooldown() -> None:
    _, state = admit(failures(THRESHOLD), COOLDOWN, trial_lease=LEASE)

    state = failures(1, now=COOLDOWN + 2.0, state=state)

    assert state.mode(COOLDOWN + 2.0) is Mode.OPEN
    assert state.open_until == 2 * COOLDOWN + 2.0 and state.trial_until == 0.0


def test_a_failure_of_a_call_that_left_before_it_opened_does_not_prolong_the_cooldown() -> None:
    state = failures(THRESHOLD + 2, now=0.0)

    assert state.open_until == COOLDOWN and state.failures == THRESHOLD + 2


def test_an_abandoned_trial_lets_the_next_caller_try_at_once() -> None:
    _, state = admit(failures(THRESHOLD), COOLDOWN, trial_lease=LEASE)

    assert admit(without_trial(state), COOLDOWN + 0.1, trial_lease=LEASE)[0] is Admission.TRIAL


# -- what a call's ending tells the breaker ---------------------------------------------

@pytest.mark.parametrize(("error", "outcome"), [
    (None, Outcome.ANSWERED),
    (ProviderRejected("HTTP 403"), Outcome.ANSWERED),
    (ProviderInvalidResponse("not JSON"), Outcome.ANSWERED),
    (ProviderUnavailable("read timed out"), Outcome.NO_ANSWER),
    (ProviderBusy("full"), Outcome.NO_VERDICT),
    (CircuitOpen("open"), Outcome.NO_VERDICT),
    (RateLimited("no slot"), Outcome.NO_VERDICT),
    (RuntimeError("a bug of ours"), Outcome.NO_VERDICT),
])
def test_only_calls_the_provider_left_unanswered_count_as_failures(
    error: Exception | None, outcome: Outcome
) -> None:
    assert outcome_of(error) is outcome


def test_a_slot_lease_outlasts_every_attempt_retry_wait_and_rate_limit_wait() -> None:
    lease = call_lease(connect_timeout=3, read_timeout=10, attempts=3, rate_wait=30)
    whole_attempt = attempt_seconds(connect_timeout=3, read_timeout=10)

    assert whole_attempt >= 3 + 10
    assert lease > 3 * (whole_attempt + 30) + 2 * 1.0


# -- the guard, with fakes ---------------------------------------------------------------

@dataclass
class FakeBreaker:
    """The pure state machine on a hand-moved clock, as RedisBreaker runs it in Redis."""

    now: float = 0.0
    state: BreakerState = CLOSED
    broken: bool = False
    admissions: int = 0

    reads: int = 0

    def read(self) -> tuple[BreakerState, float]:
        if self.broken:
            raise redis.ConnectionError("Redis is down")
        self.reads += 1
        return self.state, self.now

    def admit(self, *, trial_lease: float) -> tuple[Admission, BreakerState]:
        if self.broken:
            raise redis.ConnectionError("Redis is down")
        self.admissions += 1
        seen = self.state
        admission, self.state = admit(self.state, self.now, trial_lease=trial_lease)
        return admission, seen

    def failed(self, *, lease: float, trial: bool = False) -> bool:
        before = self.state.mode(self.now)
        self.state = after_failure(self.state, self.now, threshold=THRESHOLD, cooldown=COOLDOWN,
                                   trial=trial)
        return before is not Mode.OPEN and self.state.mode(self.now) is Mode.OPEN

    def answered(self) -> None:
        self.state = CLOSED

    def trial_abandoned(self, *, lease: float) -> None:
        self.state = without_trial(self.state)


@dataclass
class FakeBulkhead:
    limit: int = 2
    held: set[str] = field(default_factory=set)
    taken: int = 0
    releases: int = 0  # calls that handed slots back

    def acquire(self, *, lease: float, wait: float | None = None) -> str:
        if len(self.held) >= self.limit:
            raise ProviderBusy("every slot taken")
        self.taken += 1
        token = f"slot-{self.taken}"
        self.held.add(token)
        return token

    def release(self, token: str) -> None:
        self.release_many([token])

    def release_many(self, tokens: Sequence[str]) -> None:
        self.releases += 1
        self.held.difference_update(tokens)


@dataclass
class ScriptedProvider:
    """Answers, or raises the next scripted error; counts the calls that reached it."""

    errors: list[Exception | None] = field(default_factory=list)
    calls: int = 0
    name: str = "acme"
    supports_batch: bool = False
    capabilities: frozenset[Capability] = GENERIC_CAPABILITIES
    feeds: tuple[str, ...] = ()

    def get_status(self, bet_ref: str, player_id: str = "") -> BetStatus:
        self.calls += 1
        error = self.errors.pop(0) if self.errors else None
        if error is not None:
            raise error
        return BetStatus(bet_ref, ProviderStatus.PENDING)

    def get_statuses(self, bet_refs: list[str]) -> dict[str, BetStatus]:
        return {ref: self.get_status(ref) for ref in bet_refs}

    def cancel(self, bet_ref: str, player_id: str = "") -> CancelOutcome:
        return CancelOutcome(True, self.get_status(bet_ref))


@dataclass
class Heard:
    refusals: list[tuple[str, Refusal]] = field(default_factory=list)
    openings: list[str] = field(default_factory=list)

    def refused(self, provider: str, reason: Refusal) -> None:
        self.refusals.append((provider, reason))

    def opened(self, provider: str) -> None:
        self.openings.append(provider)


def guard(inner: ScriptedProvider, breaker: FakeBreaker | None = None,
          bulkhead: FakeBulkhead | None = None) -> tuple[GuardedProvider, Heard]:
    heard = Heard()
    return GuardedProvider(inner, bulkhead=bulkhead or FakeBulkhead(),
                           breaker=breaker or FakeBreaker(), lease=LEASE, listener=heard), heard


def timeouts(count: int) -> list[Exception | None]:
    return [ProviderUnavailable("read timed out") for _ in range(count)]


def test_after_enough_timeouts_in_a_row_calls_fail_at_once_without_reaching_the_provider(
) -> None:
    inner = ScriptedProvider(errors=timeouts(THRESHOLD))
    provider, heard = guard(inner)
    for _ in range(THRESHOLD):
        with pytest.raises(ProviderUnavailable):
            provider.get_status("bet-1")

    with pytest.raises(CircuitOpen):
        provider.cancel("bet-1")

    assert inner.calls == THRESHOLD
    assert heard.openings == ["acme"] and heard.refusals == [("acme", Refusal.OPEN)]


def test_an_answer_resets_the_count_of_failures_in_a_row() -> None:
    inner = ScriptedProvider(errors=[*timeouts(THRESHOLD - 1), None, *timeouts(THRESHOLD - 1)])
    breaker = FakeBreaker()
    provider, _ = guard(inner, breaker)

    for _ in range(2 * THRESHOLD - 1):
        with contextlib.suppress(ProviderUnavailable):
            provider.get_status("bet-1")

    assert breaker.state.mode(breaker.now) is Mode.CLOSED


def test_a_successful_trial_after_the_cooldown_closes_the_breaker() -> None:
    breaker = FakeBreaker(state=failures(THRESHOLD))
    inner = ScriptedProvider()
    provider, _ = guard(inner, breaker)
    breaker.now = COOLDOWN

    assert provider.get_status("bet-1").status is ProviderStatus.PENDING
    assert breaker.state == CLOSED


def test_a_trial_that_finds_every_slot_taken_hands_the_trial_back() -> None:
    breaker = FakeBreaker(state=failures(THRESHOLD), now=COOLDOWN)
    provider, heard = guard(ScriptedProvider(), breaker, FakeBulkhead(limit=0))

    with pytest.raises(ProviderBusy):
        provider.get_status("bet-1")

    assert admit(breaker.state, breaker.now, trial_lease=LEASE)[0] is Admission.TRIAL
    assert heard.refusals == [("acme", Refusal.BUSY)]


def test_refusals_by_the_bulkhead_do_not_count_towards_opening_the_breaker() -> None:
    breaker = FakeBreaker()
    provider, _ = guard(ScriptedProvider(), breaker, FakeBulkhead(limit=0))

    for _ in range(THRESHOLD * 2):
        with pytest.raises(ProviderBusy):
            provider.get_status("bet-1")

    assert breaker.state == CLOSED


def test_the_slot_is_released_whatever_the_call_ended_with() -> None:
    bulkhead = FakeBulkhead(limit=1)
    provider, _ = guard(ScriptedProvider(errors=[ProviderRejected("403"), None]),
                        bulkhead=bulkhead)

    with pytest.raises(ProviderRejected):
        provider.get_status("bet-1")
    provider.get_status("bet-1")

    assert bulkhead.held == set() and bulkhead.taken == 2


def test_when_redis_cannot_be_asked_the_call_is_refused_rather_than_made_unguarded() -> None:
    inner = ScriptedProvider()
    provider, heard = guard(inner, FakeBreaker(broken=True))

    with pytest.raises(GuardUnavailable):
        provider.get_status("bet-1")

    assert inner.calls == 0 and heard.refusals == [("acme", Refusal.UNAVAILABLE)]


def test_a_group_of_calls_shares_one_admission_while_the_breaker_is_closed() -> None:
    breaker = FakeBreaker()
    inner = ScriptedProvider(errors=[None, ProviderUnavailable("read timed out"), None])
    provider, _ = guard(inner, breaker)
    group = provider.for_group(slot_wait=0.0)

    group.get_status("bet-1")
    with pytest.raises(ProviderUnavailable):
        group.get_status("bet-2")
    group.get_status("bet-3")

    assert (breaker.reads, breaker.admissions, inner.calls) == (1, 1, 3), \
        "one read for the group; after its failure, the next call asked again"
    assert breaker.state == CLOSED, "the failure was counted, the next answer reset it"
    provider.get_status("bet-4")
    assert breaker.admissions == 2, "the provider itself still asks the breaker per call"


def test_a_group_facing_a_half_open_breaker_sends_exactly_one_trial() -> None:
    breaker = FakeBreaker(state=failures(THRESHOLD), now=COOLDOWN)
    inner = ScriptedProvider(errors=timeouts(1))
    provider, heard = guard(inner, breaker)
    group = provider.for_group(slot_wait=0.0)

    with pytest.raises(ProviderUnavailable):
        group.get_status("bet-1")  # the trial, which fails
    with pytest.raises(CircuitOpen):
        group.get_status("bet-2")

    assert inner.calls == 1 and breaker.state.mode(breaker.now) is Mode.OPEN


def test_a_group_whose_breaker_cannot_be_read_is_refused_call_by_call() -> None:
    breaker = FakeBreaker(broken=True)
    inner = ScriptedProvider()
    provider, _ = guard(inner, breaker)

    with pytest.raises(GuardUnavailable):
        provider.for_group(slot_wait=0.0).get_status("bet-1")
    assert inner.calls == 0


def test_after_a_failure_in_a_group_its_later_calls_ask_the_breaker_again() -> None:
    breaker = FakeBreaker(state=failures(THRESHOLD - 1))
    inner = ScriptedProvider(errors=timeouts(1))
    provider, _ = guard(inner, breaker)
    group = provider.for_group(slot_wait=0.0)

    with pytest.raises(ProviderUnavailable):
        group.get_status("bet-1")  # the failure that opens the breaker
    with pytest.raises(CircuitOpen):
        group.get_status("bet-2")

    assert inner.calls == 1


def test_a_groups_calls_hand_their_slot_on_and_the_group_gives_it_back_once() -> None:
    slots = FakeBulkhead(limit=2)
    provider, _ = guard(ScriptedProvider(), bulkhead=slots)

    with provider.for_group(slot_wait=0.0) as group:
        for n in range(5):
            group.get_status(f"bet-{n}")
        assert slots.held == {"slot-1"}, "one call at a time: one slot, handed on"

    assert (slots.taken, slots.releases, slots.held) == (1, 1, set())


def test_a_groups_call_refused_a_slot_is_busy_and_reaches_nobody() -> None:
    slots = FakeBulkhead(limit=1, held={"another-call"})
    inner = ScriptedProvider()
    provider, heard = guard(inner, bulkhead=slots)

    with provider.for_group(slot_wait=0.0) as group, pytest.raises(ProviderBusy):
        group.get_status("bet-1")

    assert inner.calls == 0 and heard.refusals == [("acme", Refusal.BUSY)]
    assert slots.held == {"another-call"}


def test_a_call_still_running_when_its_group_ends_gives_its_own_slot_back() -> None:
    slots = FakeBulkhead(limit=2)
    shared = SharedSlots(slots, call_lease=LEASE)
    late = shared.take(wait=None)
    shared.give_back(shared.take(wait=None))  # an ended call's slot, idle in the group

    shared.close()
    assert slots.held == {late}, "the idle slot went back, the running call keeps its own"
    shared.give_back(late)
    assert slots.held == set()


def test_a_slot_is_handed_on_only_to_a_call_that_ends_within_its_lease() -> None:
    slots, now = FakeBulkhead(limit=2), [0.0]
    shared = SharedSlots(slots, call_lease=LEASE, clock=lambda: now[0])
    first = shared.take(wait=None)
    shared.give_back(first)
    now[0] = LEASE - 0.1
    assert shared.take(wait=None) == first, "a call started now ends within the lease"
    shared.give_back(first)
    now[0] = LEASE

    second = shared.take(wait=None)
    assert second != first and shared.lease == 2 * LEASE, "one started now might not"
    shared.give_back(second)
    shared.close()
    assert slots.held == set(), "the spent slot went back with the rest"


@dataclass
class WaitingBulkhead(FakeBulkhead):
    """A bulkhead whose ``acquire`` waits (up to ``wait``) for a slot to be released."""

    waiting: int = 0
    changed: threading.Condition = field(default_factory=threading.Condition)

    def acquire(self, *, lease: float, wait: float | None = None) -> str:
        with self.changed:
            self.waiting += 1
            self.changed.notify_all()
            self.changed.wait_for(lambda: len(self.held) < self.limit, timeout=wait)
            self.waiting -= 1
            return super().acquire(lease=lease, wait=wait)

    def release_many(self, tokens: Sequence[str]) -> None:
        with self.changed:
            super().release_many(tokens)
            self.changed.notify_all()


def test_a_slot_given_back_while_a_call_of_the_group_waits_on_the_bulkhead_goes_back_to_it(
) -> None:
    slots = WaitingBulkhead(limit=1)
    shared = SharedSlots(slots, call_lease=LEASE)
    first = shared.take(wait=None)
    taken: list[str] = []
    waiter = threading.Thread(target=lambda: taken.append(shared.take(wait=5.0)))
    waiter.start()
    with slots.changed:
        assert slots.changed.wait_for(lambda: slots.waiting == 1, timeout=5.0)

    shared.give_back(first)  # kept idle, the waiting call would never see it
    waiter.join(5.0)

    assert taken == ["slot-2"] and slots.held == {"slot-2"}
    shared.give_back(taken[0])
    shared.close()
    assert slots.held == set()
