"""A 404 ("the provider never saw the bet") is not proof: providers register bets late.

An unknown bet is checked again like a pending one until its deadline (or the policy's
``unknown_grace``); then it is refunded only once a cancel has fenced its reference at
the provider (a tombstone that refuses a late registration), and only as far as the
policy allows. Everything runs on the real stack: the simulator registers bets late,
keeps tombstones and tells the truth of what it settled and what the wallet paid.
"""

from __future__ import annotations

import random
import secrets
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from betguard.models.domain.events import ReviewReason
from betguard.models.domain.snapshot import BetSnapshot
from betguard.models.domain.states import BetState
from betguard.models.store.tables import AuditEvent
from betguard.services.intake import place_bet, place_bets
from betguard_devkit.audit import audit
from tests.integration.harness import Stack, bet_payload, wait_until

pytestmark = pytest.mark.integration

SCENARIO_BETS = 40
SCENARIO_LAGS = (1.0, 6.0)  # the 4-40 s, scaled down for a test run


def answers(history: list[AuditEvent]) -> list[str]:
    return [e.detail["status"] for e in history if e.kind == "provider_answered"]


def event(history: list[AuditEvent], kind: str) -> AuditEvent:
    found = [e for e in history if e.kind == kind]
    assert found, f"no {kind} in {[e.kind for e in history]}"
    return found[0]


def refunds_of(truth: dict[str, Any], bet_ref: str) -> list[dict[str, Any]]:
    return [r for r in truth["refunds"].values() if r["bet_ref"] == bet_ref]


def test_a_bet_the_provider_registers_late_is_settled_when_it_appears_and_never_refunded(
    stack: Stack,
) -> None:
    bet = stack.place("patient", fate="delayed", delay=2.5, lag=2.5, payout="33.00")

    settled = stack.wait_for_state(bet.id, BetState.SETTLED, timeout=30)

    history = stack.history(bet.id)
    said = answers(history)
    assert said[0] == "unknown" and said[-1] == "settled", said
    assert settled.payout == Decimal("33.00")
    kinds = [e.kind for e in history]
    assert "refund_decided" not in kinds and "cancel_answered" not in kinds
    late = [e for e in history if e.kind == "check_rescheduled"][0]
    assert "register bets late" in late.detail["why"]
    truth = stack.truth()
    assert truth["bets"][bet.bet_ref]["settled_payout"] == "33.00"
    assert refunds_of(truth, bet.bet_ref) == []


def test_a_bet_unknown_until_its_deadline_is_fenced_by_a_cancel_then_refunded_once(
    stack: Stack,
) -> None:
    ref = f"ghost-{secrets.token_hex(6)}"  # never registered at the provider, yet
    bet = place_bet(stack.context, bet_payload("refunder", ref, "12.50")).bet

    refunded = stack.wait_for_state(bet.id, BetState.REFUNDED)

    history = stack.history(bet.id)
    assert set(answers(history)) == {"unknown"} and len(answers(history)) >= 2
    cancel, decided = event(history, "cancel_answered"), event(history, "refund_decided")
    assert cancel.detail["accepted"] is True and cancel.detail["status"] == "cancelled"
    assert decided.at >= refunded.deadline, "not refunded before its deadline"
    assert decided.detail["why"] == "provider accepted the cancel request"
    late = stack.sim("POST", "/_sim/bets", {"bet_ref": ref, "stake": "12.50", "currency": "EUR",
                                            "fate": "returned", "payout": "99.00"})
    assert late["fenced"] is True and late["payout"] is None
    truth = stack.truth()
    fact = truth["bets"][ref]
    assert (fact["status_now"], fact["fenced"], fact["settled"]) == ("cancelled", True, False)
    assert [r["amount"] for r in refunds_of(truth, ref)] == ["12.50"]


def test_a_bet_that_appears_after_its_deadline_was_fenced_during_its_lag_and_never_settles(
    stack: Stack,
) -> None:
    bet = stack.place("refunder", fate="delayed", delay=0.0, lag=5.0, payout="50.00")

    stack.wait_for_state(bet.id, BetState.REFUNDED)
    wait_until_every_lag_is_over(stack, [bet])

    fact = stack.truth()["bets"][bet.bet_ref]
    assert (fact["status_now"], fact["fenced"], fact["settled"]) == ("cancelled", True, False)
    assert len(refunds_of(stack.truth(), bet.bet_ref)) == 1


def test_an_unknown_bet_under_a_review_policy_goes_to_a_person_at_its_deadline(
    stack: Stack,
) -> None:
    bet = stack.place("reviewer", fate="unknown")

    in_review = stack.wait_for_state(bet.id, BetState.IN_REVIEW)

    history = stack.history(bet.id)
    [review] = stack.reviews(bet.id)
    assert review.reason == ReviewReason.DEADLINE.value
    assert "does not know the bet" in review.detail["why"]
    assert event(history, "review_opened").at >= in_review.deadline
    assert "cancel_answered" not in [e.kind for e in history]
    assert stack.truth()["bets"][bet.bet_ref]["cancels"] == 0


def test_an_unknown_bet_above_the_refund_limit_goes_to_a_person_not_to_a_refund(
    stack: Stack,
) -> None:
    bet = stack.place("fencing", fate="unknown", stake="500.00")

    stack.wait_for_state(bet.id, BetState.IN_REVIEW)

    [review] = stack.reviews(bet.id)
    assert review.reason == ReviewReason.DEADLINE.value
    assert "above the refund limit" in review.detail["why"]
    truth = stack.truth()
    assert truth["bets"][bet.bet_ref]["cancels"] == 0 and refunds_of(truth, bet.bet_ref) == []


def test_an_unknown_bet_within_the_refund_limit_is_fenced_and_refunded_after_the_grace(
    stack: Stack,
) -> None:
    bet = stack.place("fencing", fate="unknown", stake="20.00")

    refunded = stack.wait_for_state(bet.id, BetState.REFUNDED)

    history = stack.history(bet.id)
    grace = timedelta(seconds=stack.context.policy("fencing").unknown_grace or 0)
    assert event(history, "cancel_answered").at >= refunded.placed_at + grace
    assert event(history, "refund_decided").at < refunded.deadline
    assert stack.truth()["bets"][bet.bet_ref]["fenced"] is True


def test_a_provider_that_cannot_fence_an_unknown_bet_leaves_it_to_a_person(stack: Stack) -> None:
    bet = stack.place("fencing", fate="unknown", stake="20.00", fenceable=False)

    stack.wait_for_state(bet.id, BetState.IN_REVIEW)

    history = stack.history(bet.id)
    cancel = event(history, "cancel_answered")
    assert (cancel.detail["accepted"], cancel.detail["status"]) == (False, "unknown")
    [review] = stack.reviews(bet.id)
    assert review.reason == ReviewReason.DEADLINE.value
    assert "never saw it" in review.detail["why"] and "late registration" in review.detail["why"]
    assert refunds_of(stack.truth(), bet.bet_ref) == []


# -- the scenario ----------------------------------------------------------------


def place_late_registrations(stack: Stack, count: int) -> list[BetSnapshot]:
    """Bets the provider settles as soon as it has registered them, 1-6 s after placement."""
    run, rng = secrets.token_hex(4), random.Random(SCENARIO_BETS)
    refs = [f"late-{run}-{n:02d}" for n in range(count)]
    specs = [{"bet_ref": ref, "stake": "10.00", "currency": "EUR", "fate": "delayed", "delay": 0,
              "payout": f"{rng.choice([0, 5, 15, 30])}.00"} for ref in refs]
    knobs = stack.sim("GET", "/_sim/knobs")
    stack.sim("POST", "/_sim/knobs", {"registration_lag_range": list(SCENARIO_LAGS)})
    try:
        stack.sim("POST", "/_sim/bets", {"bets": specs})
    finally:
        stack.sim("POST", "/_sim/knobs",
                  {"registration_lag_range": knobs["registration_lag_range"]})
    results = place_bets(stack.context, [bet_payload("patient", ref) for ref in refs])
    return [r.bet for r in results if r.bet is not None]


def wait_until_every_lag_is_over(stack: Stack, bets: list[BetSnapshot]) -> None:
    facts = stack.truth()["bets"]
    last = max(datetime.fromisoformat(facts[bet.bet_ref]["known_from"]) for bet in bets)
    wait_until(lambda: datetime.now(UTC) > last + timedelta(seconds=0.5), 15)


def test_forty_bets_the_provider_registers_late_are_all_settled_and_none_refunded(
    stack: Stack,
) -> None:
    bets = place_late_registrations(stack, SCENARIO_BETS)
    assert len(bets) == SCENARIO_BETS

    settled = [stack.wait_for_state(bet.id, BetState.SETTLED, BetState.REFUNDED,
                                    BetState.REFUND_PENDING, BetState.IN_REVIEW, timeout=60)
               for bet in bets]

    wait_until_every_lag_is_over(stack, bets)  # so the truth tells what the provider settled
    truth = stack.truth()
    facts = {bet.bet_ref: truth["bets"][bet.bet_ref] for bet in bets}
    assert all(SCENARIO_LAGS[0] <= fact["lag"] <= SCENARIO_LAGS[1] for fact in facts.values())
    refunded_yet_settled = [b.bet_ref for b in settled
                            if b.state is not BetState.SETTLED and facts[b.bet_ref]["settled"]]
    assert refunded_yet_settled == [], "refunded (or sent away) and settled by the provider"
    assert [b.state for b in settled] == [BetState.SETTLED] * SCENARIO_BETS
    for bet in settled:
        assert bet.payout == Decimal(facts[bet.bet_ref]["settled_payout"]), bet.bet_ref
        assert answers(stack.history(bet.id))[0] == "unknown", "the provider knew it at once"
        assert facts[bet.bet_ref]["cancels"] == 0 and not facts[bet.bet_ref]["fenced"]
    refs = {bet.bet_ref for bet in bets}
    assert [r for r in truth["refunds"].values() if r["bet_ref"] in refs] == []
    with stack.context.db.unit_of_work() as session:
        report = audit(session, truth, now=datetime.now(UTC), slack=timedelta(seconds=15),
                       prefix=bets[0].bet_ref.rsplit("-", 1)[0])
    checks = {check.name: check for check in report.checks}
    assert checks["no refund of a bet the provider settled"].checked == SCENARIO_BETS
    assert report.passed, report.as_dict()
