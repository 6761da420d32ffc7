"""A decision becomes a change in one place (``betguard.models.domain.decisions``): for every
state a bet can be in and every decision, the change it takes or the refusal naming why;
the same for every operator resolution, with the facts a rejected refund's way out
rests on."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from betguard.models.domain.answers import BetStatus, ProviderStatus
from betguard.models.domain.decisions import (
    MAX_RECHECK,
    RefundFacts,
    change_for_decision,
    change_for_resolution,
)
from betguard.models.domain.errors import IllegalTransition, InvalidCommand
from betguard.models.domain.escalation import Action, Decision
from betguard.models.domain.events import EventKind, Resolution, ReviewReason
from betguard.models.domain.snapshot import BetSnapshot
from betguard.models.domain.states import BetState
from betguard.models.domain.transitions import Change, NewEvent

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
BET = BetSnapshot(
    id=1, provider="acme", bet_ref="b-1", round_ref="b-1", player_id="p-1", game_id="g-1",
    round_id="r-1", stake=Decimal("10.00"), currency="EUR", placed_at=NOW,
    state=BetState.PENDING, payout=None, deadline=NOW + timedelta(minutes=5),
    next_check_at=None, check_attempt=2, version=3)
PAID = BetStatus("b-1", ProviderStatus.SETTLED, payout=Decimal("7.50"), currency="EUR")
FOUND = NewEvent(EventKind.PROVIDER_ANSWERED, "provider:acme", {"status": "settled"})
LATER = NOW + timedelta(seconds=30)


def in_state(state: BetState) -> BetSnapshot:
    return replace(BET, state=state)


# What a pending bet becomes for each decision.
BECOMES = {
    Action.SETTLE: BetState.SETTLED,
    Action.REFUND: BetState.REFUND_PENDING,
    Action.RESCHEDULE: BetState.PENDING,
    Action.REVIEW: BetState.IN_REVIEW,
    Action.CANCEL: BetState.IN_REVIEW,  # a cancel left without its answer: a person decides
}


@pytest.mark.parametrize("action", list(Action))
def test_every_decision_changes_a_pending_bet_after_what_was_found(action: Action) -> None:
    change = change_for_decision(in_state(BetState.PENDING), Decision(action, "why"),
                                 now=NOW, found=[FOUND], answer=PAID,
                                 settled_by="provider:acme", next_check_at=LATER)

    assert change.target_state is BECOMES[action]
    assert change.expect_state is BetState.PENDING
    assert change.events[0] == FOUND  # what was found comes first in the history
    if action is Action.SETTLE:
        assert change.values["payout"] == Decimal("7.50")
        assert change.events[1].actor == "provider:acme"
    if action is Action.RESCHEDULE:
        assert change.values["next_check_at"] == LATER
    if BECOMES[action] is BetState.IN_REVIEW:
        assert change.review is not None and change.review.reason is ReviewReason.AMBIGUOUS


@pytest.mark.parametrize("state", [s for s in BetState if s is not BetState.PENDING])
@pytest.mark.parametrize("action", list(Action))
def test_no_decision_changes_a_bet_that_is_not_pending(state: BetState,
                                                       action: Action) -> None:
    with pytest.raises(IllegalTransition, match=f"is {state.value}: only a pending"):
        change_for_decision(in_state(state), Decision(action, "why"), now=NOW,
                            answer=PAID, next_check_at=LATER)


def test_a_settle_decision_without_a_payout_goes_to_a_person() -> None:
    unpaid = BetStatus("b-1", ProviderStatus.SETTLED)

    change = change_for_decision(BET, Decision(Action.SETTLE, "why"), now=NOW, answer=unpaid)

    assert change.target_state is BetState.IN_REVIEW


def test_a_review_keeps_its_reason_and_the_detail_given() -> None:
    change = change_for_decision(
        BET, Decision(Action.REVIEW, "crashed", ReviewReason.CHECK_FAILING), now=NOW,
        review_detail={"error": "KeyError"})

    assert change.review is not None
    assert change.review.reason is ReviewReason.CHECK_FAILING
    assert change.review.detail == {"why": "crashed", "error": "KeyError"}


def test_a_reschedule_without_its_next_time_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="next check"):
        change_for_decision(BET, Decision(Action.RESCHEDULE, "why"), now=NOW)


# -- an operator's resolution ----------------------------------------------------------

REFUSED = RefundFacts(key="refund:k", in_flight_until=None, wallet_refused=True)
RESOLVED = {
    # (state, resolution): what the bet becomes; None: nothing changes; an exception type
    (BetState.IN_REVIEW, Resolution.SETTLED): BetState.SETTLED,
    (BetState.IN_REVIEW, Resolution.REFUNDED): BetState.REFUND_PENDING,
    (BetState.IN_REVIEW, Resolution.RECHECK): BetState.PENDING,
    (BetState.REFUND_PENDING, Resolution.RETRY_REFUND): BetState.REFUND_PENDING,
    (BetState.REFUND_PENDING, Resolution.REFUNDED_OUTSIDE): BetState.REFUNDED,
    (BetState.REFUND_PENDING, Resolution.SETTLED): BetState.SETTLED,
    (BetState.SETTLED, Resolution.ACKNOWLEDGED): None,
    (BetState.REFUNDED, Resolution.ACKNOWLEDGED): None,
}


@pytest.mark.parametrize("state", list(BetState))
@pytest.mark.parametrize("resolution", list(Resolution))
def test_every_resolution_of_every_state_changes_the_bet_or_is_refused(
    state: BetState, resolution: Resolution,
) -> None:
    def resolve() -> Change | None:
        return change_for_resolution(
            in_state(state), resolution, operator="ana", note="checked", now=NOW,
            payout=Decimal("3.00"), deadline=NOW + timedelta(hours=1), reference="wire-77",
            refund=REFUSED)

    if (state, resolution) not in RESOLVED:
        with pytest.raises(IllegalTransition, match="bet acme/b-1"):
            resolve()
        return
    change = resolve()
    expected = RESOLVED[(state, resolution)]
    if expected is None:
        assert change is None
    else:
        assert change is not None and change.target_state is expected
        assert change.events[0].actor == "operator:ana"


def test_a_rejected_refund_is_not_retried_while_an_attempt_holds_it() -> None:
    held = RefundFacts(key="refund:k", in_flight_until=LATER, wallet_refused=False)

    with pytest.raises(IllegalTransition, match="in flight until"):
        change_for_resolution(in_state(BetState.REFUND_PENDING), Resolution.RETRY_REFUND,
                              operator="ana", note="n", now=NOW, refund=held)


@pytest.mark.parametrize("resolution", [Resolution.SETTLED, Resolution.REFUNDED_OUTSIDE])
def test_a_refund_the_wallet_did_not_refuse_is_neither_settled_nor_marked_paid(
    resolution: Resolution,
) -> None:
    unrefused = replace(REFUSED, wallet_refused=False)

    with pytest.raises(IllegalTransition):
        change_for_resolution(in_state(BetState.REFUND_PENDING), resolution, operator="ana",
                              note="n", now=NOW, payout=Decimal("1.00"), reference="w",
                              refund=unrefused)


@pytest.mark.parametrize(("state", "resolution", "missing"), [
    (BetState.IN_REVIEW, Resolution.SETTLED, "payout"),
    (BetState.REFUND_PENDING, Resolution.SETTLED, "payout"),
    (BetState.REFUND_PENDING, Resolution.REFUNDED_OUTSIDE, "reference"),
    (BetState.IN_REVIEW, Resolution.RECHECK, "deadline"),
])
def test_a_resolution_missing_what_it_needs_names_it(state: BetState, resolution: Resolution,
                                                     missing: str) -> None:
    with pytest.raises(InvalidCommand, match=f"^{missing}:"):
        change_for_resolution(in_state(state), resolution, operator="ana", note="n", now=NOW,
                              refund=REFUSED)


@pytest.mark.parametrize("deadline", [NOW, NOW + MAX_RECHECK + timedelta(seconds=1)])
def test_a_recheck_deadline_in_the_past_or_beyond_a_year_is_refused(deadline: datetime) -> None:
    with pytest.raises(InvalidCommand, match="deadline"):
        change_for_resolution(in_state(BetState.IN_REVIEW), Resolution.RECHECK,
                              operator="ana", note="n", now=NOW, deadline=deadline)
