"""A group of checks of a provider without batched status asks about each bet in its
own call, the calls side by side, never more at once than the provider's bulkhead, and
no longer than the time left of the group's lease: a call not answered by then is no
answer (a provider error: the bet is checked again, like after an outage)."""

from __future__ import annotations

import contextlib
import threading
from typing import cast

from betguard.providers.base import BetStatus, ProviderStatus
from betguard.services.batch_checks import GROUP_CALLS_AT_ONCE, GROUP_SLOT_WAIT, ask_statuses
from betguard.services.context import Context
from tests.unit.meeting_provider import HELD_FOR_GOOD, MeetingProvider, bet

NO_MIRROR = cast(Context, None)  # a provider without a history feed: no database read


class Statuses(MeetingProvider):
    """Answers each status once ``parties`` are in flight at once (asked one after the
    other, the first would wait in vain and fail); never asked in a batch."""

    supports_batch = False

    def __init__(self, parties: int) -> None:
        super().__init__(parties)
        self.lock, self.now, self.most = threading.Lock(), 0, 0
        self.held: set[str] = set()
        self.release = threading.Event()

    def get_status(self, bet_ref: str, player_id: str = "") -> BetStatus:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            if bet_ref in self.held:
                self.release.wait(HELD_FOR_GOOD)
            else:
                self.barrier.wait()
            return BetStatus(bet_ref, ProviderStatus.PENDING)
        finally:
            with self.lock:
                self.now -= 1

    def get_statuses(self, bet_refs: list[str]) -> dict[str, BetStatus]:
        raise AssertionError("a provider without batched status is asked bet by bet")


def test_the_status_calls_of_a_group_are_in_flight_together_a_few_at_a_time() -> None:
    bets = [bet(n) for n in range(2 * GROUP_CALLS_AT_ONCE)]
    provider = Statuses(GROUP_CALLS_AT_ONCE)  # they meet a few at a time

    answers = ask_statuses(NO_MIRROR, provider, bets, budget=lambda: HELD_FOR_GOOD,
                           limit=100)

    assert provider.most == GROUP_CALLS_AT_ONCE, "however wide the provider's bulkhead"

    assert sorted(answers) == [b.id for b in bets]
    for (answer, [event]), b in zip((answers[b.id] for b in bets), bets, strict=True):
        assert answer is not None and answer.status is ProviderStatus.PENDING
        assert event.kind == "provider_answered"
        assert event.detail["attempt"] == b.check_attempt - 1, "the attempt the check claimed"


def test_no_more_status_calls_are_in_flight_than_the_providers_bulkhead_allows() -> None:
    provider = Statuses(3)  # they meet three by three

    answers = ask_statuses(NO_MIRROR, provider, [bet(n) for n in range(12)],
                           budget=lambda: HELD_FOR_GOOD, limit=3)

    assert provider.most == 3
    assert all(answer is not None for answer, _ in answers.values())


def test_a_status_not_answered_within_the_budget_is_a_provider_error() -> None:
    provider = Statuses(2)
    provider.held = {"b-1", "b-3"}
    try:
        answers = ask_statuses(NO_MIRROR, provider, [bet(n) for n in range(4)],
                               budget=lambda: 0.3, limit=4)
    finally:
        provider.release.set()

    assert [answers[n][0] is not None for n in range(4)] == [True, False, True, False]
    answer, [event] = answers[1]
    assert event.kind == "provider_error" and event.detail["error"] == "StatusNotAnswered"
    assert event.detail["attempt"] == 1 and "lease" in str(event.detail["message"])


def test_no_status_call_is_made_once_the_lease_is_spent() -> None:
    provider = Statuses(1)
    provider.get_status = None  # type: ignore[assignment,method-assign]  # any call fails

    answers = ask_statuses(NO_MIRROR, provider, [bet(1), bet(2)], budget=lambda: 0.0)

    assert {answers[n][1][0].detail["error"] for n in (1, 2)} == {"StatusNotAnswered"}


def test_a_provider_with_batched_status_is_asked_once_for_the_whole_group() -> None:
    asked: list[list[str]] = []

    class Batcher(MeetingProvider):
        def get_statuses(self, bet_refs: list[str]) -> dict[str, BetStatus]:
            asked.append(bet_refs)
            return {ref: BetStatus(ref, ProviderStatus.PENDING) for ref in bet_refs}

    answers = ask_statuses(NO_MIRROR, Batcher(1), [bet(n) for n in range(5)],
                           budget=lambda: HELD_FOR_GOOD)

    assert asked == [[f"b-{n}" for n in range(5)]]
    assert all(events[0].detail["batch"] == 5 for _, events in answers.values())


def test_a_groups_calls_go_through_the_guarded_providers_group_view() -> None:
    plain = Statuses(2)
    waits: list[float] = []

    class Guarded(Statuses):
        def for_group(self, *, slot_wait: float) -> contextlib.AbstractContextManager[Statuses]:
            waits.append(slot_wait)
            return contextlib.nullcontext(plain)

    answers = ask_statuses(NO_MIRROR, Guarded(1), [bet(1), bet(2)],
                           budget=lambda: HELD_FOR_GOOD, limit=2)

    assert waits == [GROUP_SLOT_WAIT], "the group view asks, not the provider itself"
    assert all(answer is not None for answer, _ in answers.values())
