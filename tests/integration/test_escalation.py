"""Unreturned bets: results found by checks, refunds at the deadline, reviews, late results."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from betguard.models.domain.events import Resolution
from betguard.models.domain.states import BetState
from betguard.providers.wallet import refund_idempotency_key
from betguard.services.results import ResultOutcome, report_result
from betguard.services.reviews import Resolve, resolve_review
from tests.integration.harness import Stack, wait_until

pytestmark = pytest.mark.integration


def test_a_result_that_appears_late_is_found_with_growing_gaps_before_the_deadline(
    stack: Stack,
) -> None:
    bet = stack.place("backoff", fate="delayed", delay=4.0, payout="30.00")

    settled = stack.wait_for_state(bet.id, BetState.SETTLED)

    assert settled.payout == Decimal("30.00")
    history = stack.history(bet.id)
    started = [e for e in history if e.kind == "check_started"]
    rescheduled = [e for e in history if e.kind == "check_rescheduled"]
    assert len(started) >= 4, [e.kind for e in history]
    policy = stack.context.policy("backoff")
    for number, event in enumerate(rescheduled, start=1):
        planned = datetime.fromisoformat(event.detail["at"])
        gap = (planned - event.at).total_seconds()
        ceiling = min(policy.backoff_cap,
                      policy.backoff_base * policy.backoff_factor ** (number - 1))
        assert ceiling * (1 - policy.jitter) - 1e-3 <= gap <= ceiling + 1e-3, (number, gap)
        assert planned <= bet.deadline
    for event, next_check in zip(rescheduled, started[1:], strict=False):
        assert next_check.at >= datetime.fromisoformat(event.detail["at"]) - timedelta(seconds=0.01)


def test_a_bet_never_returned_under_a_refund_policy_is_cancelled_and_refunded_once(
    stack: Stack,
) -> None:
    bet = stack.place("refunder", fate="never", stake="12.50")

    refunded = stack.wait_for_state(bet.id, BetState.REFUNDED)

    assert refunded.payout is None
    truth = stack.truth()
    key = refund_idempotency_key("refunder", bet.bet_ref)
    refunds = [r for r in truth["refunds"].values() if r["bet_ref"] == bet.bet_ref]
    assert len(refunds) == 1
    assert refunds[0]["amount"] == "12.50"
    assert key in truth["refunds"]
    assert truth["bets"][bet.bet_ref]["cancelled"] is True
    kinds = stack.kinds(bet.id)
    assert kinds.index("cancel_answered") < kinds.index("refund_decided") < kinds.index(
        "bet_refunded")


def test_a_bet_the_provider_never_saw_is_not_refunded_before_its_deadline(
    stack: Stack,
) -> None:
    """A 404 is no proof: the provider may register the bet late (see
    test_late_registration for what happens at the deadline)."""
    bet = stack.place("patient", fate="unknown")

    wait_until(lambda: [e.detail.get("status") for e in stack.history(bet.id)
                        if e.kind == "provider_answered"].count("unknown") >= 4, 20)

    pending = stack.bet(bet.id)
    assert pending.state is BetState.PENDING and pending.next_check_at is not None
    assert pending.next_check_at <= bet.deadline
    history = stack.history(bet.id)
    rescheduled = [e for e in history if e.kind == "check_rescheduled"]
    assert rescheduled and all("register bets late" in e.detail["why"] for e in rescheduled)
    assert not {"cancel_answered", "refund_decided", "review_opened"} & {e.kind for e in history}
    truth = stack.truth()
    assert truth["bets"][bet.bet_ref]["cancels"] == 0
    assert [r for r in truth["refunds"].values() if r["bet_ref"] == bet.bet_ref] == []


@pytest.mark.parametrize(
    ("resolution", "payout", "final"),
    [
        (Resolution.SETTLED, "40.00", BetState.SETTLED),
        (Resolution.REFUNDED, None, BetState.REFUNDED),
        (Resolution.RECHECK, None, BetState.PENDING),
    ],
)
def test_a_bet_in_review_is_resolved_by_an_operator_and_the_decision_is_audited(
    stack: Stack, resolution: Resolution, payout: str | None, final: BetState
) -> None:
    bet = stack.place("reviewer", fate="never")
    in_review = stack.wait_for_state(bet.id, BetState.IN_REVIEW)
    [review] = stack.reviews(bet.id)
    assert review.reason == "deadline" and review.resolved_at is None

    resolve_review(stack.context, Resolve("reviewer", bet.bet_ref, resolution, "alice",
                                          "checked with the provider's support", payout=payout))

    outcome = stack.wait_for_state(bet.id, final)
    [review] = stack.reviews(bet.id)
    assert (review.resolution, review.operator) == (resolution.value, "alice")
    resolved = next(e for e in stack.history(bet.id) if e.kind == "review_resolved")
    assert resolved.actor == "operator:alice"
    if final is BetState.SETTLED:
        assert outcome.payout == Decimal("40.00")
    if final is BetState.REFUNDED:
        assert len([r for r in stack.truth()["refunds"].values()
                    if r["bet_ref"] == bet.bet_ref]) == 1
    if final is BetState.PENDING:
        assert outcome.deadline > in_review.deadline
        stack.wait_for_state(bet.id, BetState.IN_REVIEW)  # re-checked, and still no result
        started = [e for e in stack.history(bet.id) if e.kind == "check_started"]
        assert started[-1].detail["attempt"] > in_review.check_attempt - 1


def test_a_late_win_for_a_refunded_bet_opens_a_conflict_review_and_moves_no_money(
    stack: Stack,
) -> None:
    bet = stack.place("refunder", fate="never", stake="8.00")
    stack.wait_for_state(bet.id, BetState.REFUNDED)

    outcome = report_result(stack.context, "refunder", bet.bet_ref, payout="120.00",
                            currency="EUR")
    again = report_result(stack.context, "refunder", bet.bet_ref, payout="120.00", currency="EUR")

    assert outcome is again is ResultOutcome.CONFLICT
    final = stack.bet(bet.id)
    assert final.state is BetState.REFUNDED and final.payout is None
    [review] = stack.reviews(bet.id)
    assert review.reason == "conflict" and review.resolved_at is None
    assert review.detail["decided"]["state"] == "refunded"
    assert review.detail["late_fact"]["payout"] == "120.00"
    refunds = [r for r in stack.truth()["refunds"].values() if r["bet_ref"] == bet.bet_ref]
    assert len(refunds) == 1 and refunds[0]["requests"] == 1


def test_a_bets_history_explains_every_check_and_every_decision(stack: Stack) -> None:
    bet = stack.place("refunder", fate="never")
    stack.sim("POST", "/_sim/faults", {"bet_ref": bet.bet_ref, "fault": "not_json", "times": 1})

    stack.wait_for_state(bet.id, BetState.REFUNDED)

    history = stack.history(bet.id)
    answers = {e.detail["attempt"]: e for e in history
               if e.kind in ("provider_answered", "provider_error")}
    for check in (e for e in history if e.kind == "check_started"):
        answer = answers[check.detail["attempt"]]
        assert answer.actor == "provider:refunder"
        assert answer.detail.get("status") or answer.detail.get("message")
    assert any(e.kind == "provider_error" and "JSON" in e.detail["message"] for e in history)
    decisions = ("check_rescheduled", "refund_decided", "bet_settled")
    for decision in (e for e in history if e.kind in decisions):
        assert decision.detail["why"]
    cancel = next(e for e in history if e.kind == "cancel_answered")
    assert cancel.detail["accepted"] is True
    refunded = next(e for e in history if e.kind == "bet_refunded")
    assert refunded.detail["refund_id"] and refunded.detail["idempotency_key"]
    assert all(e.at and e.actor for e in history)
