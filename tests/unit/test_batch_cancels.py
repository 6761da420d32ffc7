"""A batched check asks the provider to cancel its deadline bets concurrently, and no
longer than the time left of its lease: a cancel not answered by then is no answer."""

from __future__ import annotations

import threading

import pytest

from betguard.models.domain.escalation import Action, decide_after_cancel
from betguard.providers.base import BetStatus, CancelOutcome, ProviderStatus
from betguard.services.batch_checks import ask_cancels, cancel_budget
from tests.unit.meeting_provider import HELD_FOR_GOOD, MeetingProvider, bet


class HoldingProvider(MeetingProvider):
    """Answers the cancels of ``answered`` refs at once and holds the others."""

    def __init__(self, answered: set[str]) -> None:
        super().__init__(1)
        self.answered, self.release = answered, threading.Event()

    def cancel(self, bet_ref: str, player_id: str = "") -> CancelOutcome:
        if bet_ref not in self.answered:
            self.release.wait(HELD_FOR_GOOD)
        return CancelOutcome(accepted=True, status=BetStatus(bet_ref, ProviderStatus.CANCELLED))


class NeverAsked(MeetingProvider):
    def cancel(self, bet_ref: str, player_id: str = "") -> CancelOutcome:
        raise AssertionError(f"{bet_ref}: no cancel may be sent")


@pytest.mark.parametrize("count", [2, 5, 8])
def test_the_cancels_of_a_batch_are_in_flight_together(count: int) -> None:
    bets = [bet(n) for n in range(count)]

    answers = ask_cancels(MeetingProvider(count), bets, budget=HELD_FOR_GOOD)

    assert sorted(answers) == [b.id for b in bets]
    for outcome, events in answers.values():
        assert outcome is not None and outcome.accepted
        assert [e.kind for e in events] == ["cancel_answered"]


def test_a_cancel_not_answered_within_the_budget_is_no_answer_and_goes_to_a_person() -> None:
    bets = [bet(n) for n in range(4)]
    provider = HoldingProvider({"b-0", "b-2"})
    try:
        answers = ask_cancels(provider, bets, budget=0.2)
    finally:
        provider.release.set()

    assert [answers[b.id][0] is not None for b in bets] == [True, False, True, False]
    outcome, [event] = answers[1]
    assert event.kind == "cancel_failed" and event.detail["error"] == "CancelNotAnswered"
    assert "lease" in str(event.detail["message"])
    assert decide_after_cancel(outcome, currency="EUR").action is Action.REVIEW


def test_no_cancel_is_sent_once_the_lease_is_spent() -> None:
    answers = ask_cancels(NeverAsked(1), [bet(1), bet(2)], budget=0.0)

    assert [answers[n][0] for n in (1, 2)] == [None, None]
    assert {answers[n][1][0].detail["error"] for n in (1, 2)} == {"CancelNotAnswered"}


def test_more_cancels_than_threads_wait_for_a_free_one_within_the_budget() -> None:
    bets = [bet(n) for n in range(20)]
    answers = ask_cancels(HoldingProvider({b.bet_ref for b in bets}), bets,
                          budget=HELD_FOR_GOOD)
    assert all(outcome is not None and outcome.accepted for outcome, _ in answers.values())


def test_no_more_cancels_are_in_flight_than_the_providers_bulkhead_allows() -> None:
    provider = CountingProvider()
    ask_cancels(provider, [bet(n) for n in range(12)], budget=HELD_FOR_GOOD, limit=3)
    assert provider.most == 3


class CountingProvider(MeetingProvider):
    """Counts the cancels in flight at once; they meet three by three, so three are."""

    def __init__(self) -> None:
        super().__init__(3)
        self.lock, self.now, self.most = threading.Lock(), 0, 0

    def cancel(self, bet_ref: str, player_id: str = "") -> CancelOutcome:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        outcome = super().cancel(bet_ref)
        with self.lock:
            self.now -= 1
        return outcome


def test_no_bet_to_cancel_asks_nothing() -> None:
    assert ask_cancels(MeetingProvider(1), [], budget=1.0) == {}


@pytest.mark.parametrize(
    ("lease", "spent", "budget"),
    [(120.0, 0.0, 110.0), (120.0, 30.0, 80.0), (6.0, 1.0, 3.8), (6.0, 5.5, 0.0)],
)
def test_the_cancels_budget_is_what_is_left_of_the_lease_less_a_margin(
    lease: float, spent: float, budget: float
) -> None:
    assert cancel_budget(lease, spent) == pytest.approx(budget)
