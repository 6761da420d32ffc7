"""Transitions as verbs: each refuses an illegal start state and describes one
compare-and-set change with its past-tense audit event."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from betguard.models.domain import transitions
from betguard.models.domain.errors import IllegalTransition
from betguard.models.domain.events import EventKind, ReviewReason
from betguard.models.domain.snapshot import BetSnapshot
from betguard.models.domain.states import BetState
from betguard.models.domain.transitions import Change, NewEvent, NewReview

NOW = datetime(2026, 1, 1, tzinfo=UTC)
DEADLINE = NOW + timedelta(hours=6)
LATER = NOW + timedelta(minutes=5)


def bet(state: BetState = BetState.PENDING, **changes: Any) -> BetSnapshot:
    snapshot = BetSnapshot(
        id=7,
        provider="acme",
        bet_ref="b-1",
        round_ref="b-1",
        player_id="p-1",
        game_id="g-1",
        round_id="r-1",
        stake=Decimal("25.00"),
        currency="EUR",
        placed_at=NOW - timedelta(hours=1),
        state=state,
        payout=None,
        deadline=DEADLINE,
        next_check_at=NOW,
        check_attempt=3,
        version=4,
    )
    return dataclasses.replace(snapshot, **changes)


def settle(snapshot: BetSnapshot) -> Change:
    return transitions.settle(
        snapshot, payout=Decimal("120.50"), actor="provider:acme", why="result", now=NOW
    )


def decide_refund(snapshot: BetSnapshot) -> Change:
    return transitions.decide_refund(snapshot, actor="betguard", why="cancelled", now=NOW)


def confirm_refund(snapshot: BetSnapshot) -> Change:
    return transitions.confirm_refund(snapshot, refund_id="rf-9", key="refund:acme:b-1",
                                      paid_by="betguard", now=NOW)


def open_review(snapshot: BetSnapshot) -> Change:
    return transitions.open_review(
        snapshot,
        reason=ReviewReason.DEADLINE,
        why="deadline passed",
        actor="betguard",
        detail={"answer": None},
    )


def order_recheck(snapshot: BetSnapshot) -> Change:
    return transitions.order_recheck(
        snapshot, deadline=DEADLINE + timedelta(hours=2), operator="ops:ann", note="try", now=NOW
    )


def reschedule(snapshot: BetSnapshot) -> Change:
    return transitions.reschedule(snapshot, at=LATER, events=[])


def settle_instead_of_refund(snapshot: BetSnapshot) -> Change:
    return transitions.settle_instead_of_refund(
        snapshot, payout=Decimal("40.00"), operator="operator:ann", note="provider has it",
        wallet_refused=True, now=NOW)


def refund_outside(snapshot: BetSnapshot) -> Change:
    return transitions.refund_outside(
        snapshot, operator="operator:ann", reference="TX-991", note="paid by bank transfer",
        wallet_refused=True, now=NOW)


def retry_refund_now(snapshot: BetSnapshot) -> Change:
    return transitions.retry_refund_now(snapshot, operator="operator:ann", note="fixed",
                                        key="refund:acme:b-1", now=NOW)


def check_now(snapshot: BetSnapshot) -> Change:
    return transitions.check_now(snapshot, operator="operator:ann", now=NOW)


Verb = Callable[[BetSnapshot], Change]
VERBS: list[tuple[Verb, set[BetState], EventKind]] = [
    (settle, {BetState.PENDING, BetState.IN_REVIEW}, EventKind.BET_SETTLED),
    (decide_refund, {BetState.PENDING, BetState.IN_REVIEW}, EventKind.REFUND_DECIDED),
    (confirm_refund, {BetState.REFUND_PENDING}, EventKind.BET_REFUNDED),
    (open_review, {BetState.PENDING}, EventKind.REVIEW_OPENED),
    (order_recheck, {BetState.IN_REVIEW}, EventKind.RECHECK_ORDERED),
    (reschedule, {BetState.PENDING}, EventKind.CHECK_RESCHEDULED),
    (settle_instead_of_refund, {BetState.REFUND_PENDING}, EventKind.BET_SETTLED),
    (refund_outside, {BetState.REFUND_PENDING}, EventKind.BET_REFUNDED),
    (retry_refund_now, {BetState.REFUND_PENDING}, EventKind.REFUND_RETRY_ORDERED),
    (check_now, {BetState.PENDING}, EventKind.RECHECK_ORDERED),
]
LEGAL_STARTS = [
    pytest.param(verb, start, kind, id=f"{verb.__name__}-from-{start.value}")
    for verb, starts, kind in VERBS
    for start in sorted(starts)
]
ILLEGAL_STARTS = [
    pytest.param(verb, start, id=f"{verb.__name__}-from-{start.value}")
    for verb, starts, _ in VERBS
    for start in sorted(set(BetState) - starts)
]


# --- every verb -------------------------------------------------------------------


@pytest.mark.parametrize(("verb", "start", "kind"), LEGAL_STARTS)
def test_each_verb_compares_against_the_state_it_was_read_in_and_emits_one_past_tense_event(
    verb: Verb, start: BetState, kind: EventKind
) -> None:
    change = verb(bet(start))
    assert change.expect_state is start
    assert [event.kind for event in change.events] == [kind]
    assert kind.value.endswith("ed")


@pytest.mark.parametrize(("verb", "start"), ILLEGAL_STARTS)
def test_each_verb_refuses_an_illegal_start_state(verb: Verb, start: BetState) -> None:
    with pytest.raises(IllegalTransition):
        verb(bet(start))


@pytest.mark.parametrize(("verb", "start", "kind"), LEGAL_STARTS)
def test_every_event_detail_is_ready_for_a_json_audit_column(
    verb: Verb, start: BetState, kind: EventKind
) -> None:
    for event in verb(bet(start)).events:
        json.dumps(event.detail)


@pytest.mark.parametrize(("verb", "start", "kind"), LEGAL_STARTS)
def test_a_change_and_its_events_cannot_be_altered_once_decided(
    verb: Verb, start: BetState, kind: EventKind
) -> None:
    change = verb(bet(start))
    assert isinstance(change.events, tuple)
    with pytest.raises(dataclasses.FrozenInstanceError):
        change.events = ()  # type: ignore[misc]


def test_a_transition_describes_a_change_and_leaves_the_snapshot_untouched() -> None:
    before = bet()
    settle(before)
    assert before == bet()
    with pytest.raises(dataclasses.FrozenInstanceError):
        before.state = BetState.SETTLED  # type: ignore[misc]


# --- settle -----------------------------------------------------------------------


def test_settling_records_the_payout_and_makes_the_bet_final() -> None:
    change = settle(bet())
    assert change.target_state is BetState.SETTLED
    assert change.values == {
        "state": BetState.SETTLED,
        "payout": Decimal("120.50"),
        "final_at": NOW,
        "next_check_at": None,
    }
    assert change.events == (
        NewEvent(
            EventKind.BET_SETTLED,
            "provider:acme",
            {"payout": "120.50", "currency": "EUR", "why": "result"},
        ),
    )
    assert change.review is None


def test_settling_a_refunded_bet_is_refused() -> None:
    with pytest.raises(IllegalTransition, match="from refunded to settled"):
        settle(bet(BetState.REFUNDED))


def test_settling_a_settled_bet_again_is_refused() -> None:
    with pytest.raises(IllegalTransition, match="from settled to settled"):
        settle(bet(BetState.SETTLED, payout=Decimal("120.50")))


# --- refunds ------------------------------------------------------------------------


def test_deciding_a_refund_wakes_the_refund_at_once_for_the_whole_stake() -> None:
    change = decide_refund(bet())
    assert change.target_state is BetState.REFUND_PENDING
    assert change.values == {"state": BetState.REFUND_PENDING, "next_check_at": NOW}
    assert change.events[0].detail == {"why": "cancelled", "amount": "25.00"}
    assert change.events[0].actor == "betguard"


def test_a_bet_already_waiting_for_its_refund_is_not_refunded_twice() -> None:
    with pytest.raises(IllegalTransition):
        decide_refund(bet(BetState.REFUND_PENDING))


def test_confirming_a_refund_makes_the_bet_final_and_records_the_wallets_receipt() -> None:
    change = confirm_refund(bet(BetState.REFUND_PENDING))
    assert change.target_state is BetState.REFUNDED
    assert change.values == {"state": BetState.REFUNDED, "final_at": NOW, "next_check_at": None}
    assert change.events == (
        NewEvent(
            EventKind.BET_REFUNDED,
            "wallet",
            {"refund_id": "rf-9", "idempotency_key": "refund:acme:b-1", "amount": "25.00",
             "paid_by": "betguard"},
        ),
    )


def test_a_refund_the_provider_paid_first_says_so_in_its_event() -> None:
    change = transitions.confirm_refund(bet(BetState.REFUND_PENDING), refund_id="rb-1",
                                        key="refund:acme:b-1", paid_by="provider", now=NOW)
    assert change.events[0].detail["paid_by"] == "provider"


def test_confirming_a_refund_for_a_bet_no_one_decided_to_refund_is_refused() -> None:
    with pytest.raises(IllegalTransition, match="from pending to refunded"):
        confirm_refund(bet())


# --- reviews ------------------------------------------------------------------------


def test_opening_a_review_stops_the_checks_and_files_a_review_item() -> None:
    change = open_review(bet())
    assert change.target_state is BetState.IN_REVIEW
    assert change.values == {"state": BetState.IN_REVIEW, "next_check_at": None}
    assert change.events[0].detail == {
        "reason": "deadline",
        "why": "deadline passed",
        "answer": None,
    }
    assert change.review == NewReview(
        ReviewReason.DEADLINE, {"why": "deadline passed", "answer": None}
    )


def test_a_bet_in_review_cannot_be_put_in_review_again() -> None:
    with pytest.raises(IllegalTransition, match="from in_review to in_review"):
        open_review(bet(BetState.IN_REVIEW))


def test_ordering_a_recheck_returns_the_bet_to_pending_with_a_new_deadline() -> None:
    new_deadline = DEADLINE + timedelta(hours=2)
    change = order_recheck(bet(BetState.IN_REVIEW))
    assert change.target_state is BetState.PENDING
    assert change.values == {"state": BetState.PENDING, "deadline": new_deadline,
                             "next_check_at": NOW}
    assert change.events == (
        NewEvent(
            EventKind.RECHECK_ORDERED,
            "ops:ann",
            {"deadline": new_deadline.isoformat(), "note": "try", "attempt": 3},
        ),
    )


def test_a_recheck_takes_the_check_number_the_last_claim_left_unused() -> None:
    change = order_recheck(bet(BetState.IN_REVIEW))
    assert "check_attempt" not in change.values  # the bet's check_attempt (3) is next


def test_a_recheck_of_a_pending_bet_is_refused() -> None:
    with pytest.raises(IllegalTransition, match="from pending to pending"):
        order_recheck(bet())


# --- reschedule ---------------------------------------------------------------------


def test_rescheduling_keeps_the_bet_pending_and_moves_its_next_check() -> None:
    change = transitions.reschedule(bet(), at=LATER, events=[], why="no result yet")
    assert change.target_state is BetState.PENDING
    assert change.values == {"next_check_at": LATER}
    detail = {"attempt": 3, "at": LATER.isoformat(), "why": "no result yet"}
    assert change.events == (NewEvent(EventKind.CHECK_RESCHEDULED, "betguard", detail),)


def test_rescheduling_records_what_the_check_found_before_the_new_time() -> None:
    found = NewEvent(EventKind.PROVIDER_ANSWERED, "provider:acme", {"status": "pending"})
    change = transitions.reschedule(bet(), at=LATER, events=[found])
    assert [event.kind for event in change.events] == [
        EventKind.PROVIDER_ANSWERED,
        EventKind.CHECK_RESCHEDULED,
    ]


def test_rescheduling_a_bet_in_review_is_refused() -> None:
    with pytest.raises(IllegalTransition):
        reschedule(bet(BetState.IN_REVIEW))


# --- a refund the wallet rejected ----------------------------------------------------


def test_settling_a_bet_whose_refund_is_decided_is_refused_by_the_plain_settle() -> None:
    with pytest.raises(IllegalTransition, match="has a refund decided"):
        settle(bet(BetState.REFUND_PENDING))


def test_an_operator_settles_a_rejected_refund_with_the_payout_and_says_so() -> None:
    change = settle_instead_of_refund(bet(BetState.REFUND_PENDING))
    assert change.target_state is BetState.SETTLED
    assert change.values == {"state": BetState.SETTLED, "payout": Decimal("40.00"),
                             "final_at": NOW, "next_check_at": None}
    assert change.events == (NewEvent(EventKind.BET_SETTLED, "operator:ann", {
        "payout": "40.00", "currency": "EUR", "why": "provider has it",
        "instead_of_refund": True}),)


def test_a_refund_the_wallet_did_not_reject_is_never_settled_by_an_operator() -> None:
    with pytest.raises(IllegalTransition, match="did not reject its refund"):
        transitions.settle_instead_of_refund(
            bet(BetState.REFUND_PENDING), payout=Decimal("1"), operator="o", note="n",
            wallet_refused=False, now=NOW)


def test_a_refund_the_wallet_did_not_reject_is_never_marked_paid_outside_betguard() -> None:
    with pytest.raises(IllegalTransition, match="did not reject its refund"):
        transitions.refund_outside(bet(BetState.REFUND_PENDING), operator="o", reference="r",
                                   note="n", wallet_refused=False, now=NOW)


def test_a_refund_paid_outside_betguard_makes_the_bet_refunded_with_its_reference() -> None:
    change = refund_outside(bet(BetState.REFUND_PENDING))
    assert change.values == {"state": BetState.REFUNDED, "final_at": NOW, "next_check_at": None}
    assert change.events[0].actor == "operator:ann"
    assert change.events[0].detail == {"outside_betguard": True, "reference": "TX-991",
                                       "note": "paid by bank transfer", "amount": "25.00"}


def test_retrying_a_refund_now_keeps_its_one_idempotency_key_and_wakes_it_at_once() -> None:
    change = retry_refund_now(bet(BetState.REFUND_PENDING))
    assert change.target_state is BetState.REFUND_PENDING
    assert change.values == {"next_check_at": NOW}
    assert change.events[0].detail == {"note": "fixed", "idempotency_key": "refund:acme:b-1"}


def test_a_rejected_refund_tried_again_later_records_the_wallets_answer() -> None:
    found = NewEvent(EventKind.REFUND_REJECTED, "wallet", {"error": "WalletRejected"})
    change = transitions.retry_refund_later(bet(BetState.REFUND_PENDING), at=LATER, found=found)
    assert change.values == {"next_check_at": LATER}
    assert change.events == (found,)


def test_stopping_the_retries_of_a_rejected_refund_leaves_it_no_next_check() -> None:
    found = NewEvent(EventKind.REFUND_REJECTED, "wallet", {"error": "WalletRejected"})
    change = transitions.stop_refund_retries(bet(BetState.REFUND_PENDING), found=found,
                                             rejections=3)
    assert change.target_state is BetState.REFUND_PENDING
    assert change.values == {"next_check_at": None}
    assert [e.kind for e in change.events] == [EventKind.REFUND_REJECTED,
                                              EventKind.REFUND_RETRIES_STOPPED]
    assert change.events[1].detail["rejections"] == 3


def test_a_refund_is_retried_or_stopped_only_while_it_is_refund_pending() -> None:
    found = NewEvent(EventKind.REFUND_FAILED, "wallet", {})
    with pytest.raises(IllegalTransition, match="not refund_pending"):
        transitions.retry_refund_later(bet(BetState.REFUNDED), at=LATER, found=found)
    with pytest.raises(IllegalTransition, match="not refund_pending"):
        transitions.stop_refund_retries(bet(BetState.SETTLED), found=found, rejections=3)


def test_checking_a_pending_bet_now_keeps_its_attempt_number_and_moves_its_check() -> None:
    change = check_now(bet())
    assert change.values == {"next_check_at": NOW}
    assert change.events == (NewEvent(EventKind.RECHECK_ORDERED, "operator:ann", {"attempt": 3}),)


# --- what was found before a change ---------------------------------------------------


def test_a_change_preceded_by_what_was_found_records_it_first_and_changes_nothing_else() -> None:
    reported = NewEvent(EventKind.RESULT_REPORTED, "game-server", {"payout": "120.50"})
    change = settle(bet())
    preceded = change.preceded_by([reported])
    assert [event.kind for event in preceded.events] == [EventKind.RESULT_REPORTED,
                                                         EventKind.BET_SETTLED]
    assert (preceded.expect_state, preceded.values, preceded.notify) == (
        change.expect_state, change.values, change.notify)
    assert change.events == settle(bet()).events  # the original change is untouched


def test_a_review_preceded_by_a_crash_keeps_its_review_item() -> None:
    crashed = NewEvent(EventKind.CHECK_CRASHED, "betguard", {"attempt": 3})
    change = open_review(bet()).preceded_by([crashed])
    assert [event.kind for event in change.events] == [EventKind.CHECK_CRASHED,
                                                       EventKind.REVIEW_OPENED]
    assert change.review == open_review(bet()).review


# --- a check woken by what the feed shows -------------------------------------------


def test_waking_a_pending_bets_check_moves_its_next_check_to_now_with_what_was_found() -> None:
    found = NewEvent(EventKind.RECONCILIATION_DIFFERENCE, "reconciliation", {"kind": "state"})
    change = transitions.wake_check(bet(next_check_at=LATER), found=found, now=NOW)
    assert change.expect_state is BetState.PENDING
    assert change.values == {"next_check_at": NOW}
    assert change.events == (found,)
    assert (change.review, change.notify) == (None, None)


@pytest.mark.parametrize("state", sorted(set(BetState) - {BetState.PENDING}))
def test_only_a_pending_bets_check_is_woken(state: BetState) -> None:
    found = NewEvent(EventKind.RECONCILIATION_DIFFERENCE, "reconciliation", {})
    with pytest.raises(IllegalTransition, match="not pending"):
        transitions.wake_check(bet(state), found=found, now=NOW)


def test_a_new_bet_is_born_pending_with_its_first_check_due() -> None:
    first_check = datetime(2026, 1, 1, 12, 0, 5, tzinfo=UTC)
    assert transitions.place(first_check_at=first_check) == {
        "state": "pending", "payout": None, "next_check_at": first_check,
        "check_attempt": 1, "version": 1, "final_at": None}
