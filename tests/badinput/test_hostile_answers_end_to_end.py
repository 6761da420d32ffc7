"""Hostile provider and wallet answers through the running stack: each is recorded in
the bet's history as the error it is, handled like an outage, and the bet still ends
the way the truth says — settled with the simulator's payout, or refunded exactly once.

All provider cases are placed at once (each bet with one hostile answer queued for
it); the wallet cases, whose faults the simulator cannot aim at one bet, run one
after another meanwhile.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from decimal import Decimal

import pytest

from betguard.models.domain.events import ReviewReason
from betguard.models.domain.snapshot import BetSnapshot
from betguard.models.domain.states import BetState
from betguard.models.store.tables import AuditEvent
from betguard.services.intake import place_bet
from tests.badinput.response_cases import (
    HOSTILE_PAYOUTS,
    PROVIDER_END_TO_END,
    WALLET_END_TO_END,
    PayoutCase,
    ResponseCase,
)
from tests.integration.harness import Stack, bet_payload, wait_until

pytestmark = pytest.mark.integration

PAYOUT = Decimal("7.00")
DECIDED_WITHIN = 45.0


@dataclass(frozen=True)
class Launched:
    provider: dict[str, BetSnapshot]  # by fault
    wallet: dict[str, BetSnapshot]


@pytest.fixture(scope="module")
def launched(stack: Stack) -> Launched:
    provider = {case.fault: place_with_provider_fault(stack, case) for case in PROVIDER_END_TO_END}
    wallet = {case.fault: refund_through_wallet_fault(stack, case) for case in WALLET_END_TO_END}
    return Launched(provider, wallet)


def place_with_provider_fault(stack: Stack, case: ResponseCase) -> BetSnapshot:
    """A bet the provider settles after a second, with hostile answers queued for it first."""
    ref = f"hostile-{secrets.token_hex(6)}"
    stack.sim("POST", "/_sim/bets", {"bet_ref": ref, "stake": "10.00", "currency": "EUR",
                                     "fate": "delayed", "delay": 1.0, "payout": str(PAYOUT)})
    stack.sim("POST", "/_sim/faults", {"bet_ref": ref, "fault": case.fault, "times": case.times})
    return place_bet(stack.context, bet_payload("patient", ref)).bet


def refund_through_wallet_fault(stack: Stack, case: ResponseCase) -> BetSnapshot:
    """A bet the provider never saw, so fenced by a cancel and refunded a second after it
    was placed (the ``fencing`` policy's unknown_grace) — and its first receipt hostile.

    Waits until it is refunded: the wallet's fault queue is shared, and the next case's
    fault must not be taken by this bet's retry."""
    ref = f"hostile-{secrets.token_hex(6)}"
    stack.sim("POST", "/_sim/bets", {"bet_ref": ref, "stake": "10.00", "currency": "EUR",
                                     "fate": "unknown"})
    stack.sim("POST", "/_sim/faults", {"target": "wallet", "fault": case.fault,
                                       "times": case.times})
    bet = place_bet(stack.context, bet_payload("fencing", ref)).bet
    stack.wait_for_state(bet.id, BetState.REFUNDED, timeout=20)
    return bet


# Refusals of the provider's own guards (bulkhead, breaker): no request was sent, so no
# answer, hostile or not, is in them. Many corpus bets of one provider check at once.
GUARD_REFUSALS = {"ProviderBusy", "CircuitOpen", "GuardUnavailable"}


def answers_history(history: list[AuditEvent]) -> list[AuditEvent]:
    """The history without the guards' refusals and the reschedules they caused."""
    kept: list[AuditEvent] = []
    for event in history:
        if event.kind in ("provider_error", "cancel_failed") and \
                event.detail.get("error") in GUARD_REFUSALS:
            continue
        if event.kind == "check_rescheduled" and kept and kept[-1].kind == "check_started":
            continue
        kept.append(event)
    return kept


def first(history: list[AuditEvent], kind: str) -> AuditEvent:
    found = [event for event in history if event.kind == kind]
    assert found, f"no {kind} in {[event.kind for event in history]}"
    return found[0]


def assert_workers_alive(stack: Stack) -> None:
    for worker in stack.workers:
        assert worker.alive(), f"{worker.name} died: {worker.log.read_text()[-3000:]}"


@pytest.mark.parametrize("case", [case.param() for case in PROVIDER_END_TO_END if case.category])
def test_a_hostile_provider_answer_is_recorded_as_a_provider_error_and_the_bet_settles_anyway(
    stack: Stack, launched: Launched, case: ResponseCase
) -> None:
    bet = launched.provider[case.fault]

    settled = stack.wait_for_state(bet.id, BetState.SETTLED, timeout=DECIDED_WITHIN)
    # A check held by a slow answer past its lease is superseded by the sweep's next
    # check; it still records its error when it ends, after the bet was settled.
    wait_until(lambda: "provider_error" in [e.kind for e in answers_history(
        stack.history(bet.id))], DECIDED_WITHIN)

    history = answers_history(stack.history(bet.id))
    error = first(history, "provider_error")
    assert case.category is not None
    assert error.detail["error"] == case.category.__name__
    assert case.named.lower() in error.detail["message"].lower(), error.detail["message"]
    assert settled.payout == PAYOUT, "the payout is the provider's truth, not the hostile one"
    kinds = [event.kind for event in history]
    if kinds.index("provider_error") < kinds.index("bet_settled"):
        after = kinds[kinds.index("provider_error") + 1]
        assert after == "check_rescheduled", "the hostile answer decided nothing"
    assert kinds.count("bet_settled") == 1
    assert stack.reviews(bet.id) == []
    assert_workers_alive(stack)


def test_a_result_in_another_valid_currency_is_not_an_error_but_goes_to_a_person(
    stack: Stack, launched: Launched
) -> None:
    bet = launched.provider["other_currency"]

    in_review = stack.wait_for_state(bet.id, BetState.IN_REVIEW, timeout=DECIDED_WITHIN)

    history = stack.history(bet.id)
    answered = first(history, "provider_answered")
    assert (answered.detail["status"], answered.detail["currency"]) == ("settled", "USD")
    assert "provider_error" not in [event.kind for event in history]
    [review] = stack.reviews(bet.id)
    assert review.reason == ReviewReason.AMBIGUOUS.value
    assert "does not fit a bet in EUR" in review.detail["why"]
    assert in_review.payout is None, "nothing was paid out on an answer that does not fit"
    assert_workers_alive(stack)


@pytest.mark.parametrize("case", [case.param() for case in WALLET_END_TO_END])
def test_a_hostile_wallet_answer_leaves_the_refund_in_doubt_until_the_same_key_confirms_it(
    stack: Stack, launched: Launched, case: ResponseCase
) -> None:
    bet = launched.wallet[case.fault]

    history = stack.history(bet.id)

    kinds = [event.kind for event in history]
    failed, refunded = first(history, "refund_failed"), first(history, "bet_refunded")
    assert failed.detail["error"] == "WalletUnavailable"
    assert case.named.lower() in failed.detail["message"].lower(), failed.detail["message"]
    assert kinds.index("refund_decided") < kinds.index("refund_failed") < kinds.index(
        "bet_refunded")
    assert failed.detail["idempotency_key"] == refunded.detail["idempotency_key"]
    truth = stack.truth()
    ledger = [r for r in truth["refunds"].values() if r["bet_ref"] == bet.bet_ref]
    assert [(r["amount"], r["refund_id"]) for r in ledger] == [("10.00", refunded.detail[
        "refund_id"])], "exactly one refund, and the one the wallet first recorded"
    assert ledger[0]["requests"] >= 2, "the retry went out under the same key"
    assert stack.reviews(bet.id) == []
    assert_workers_alive(stack)


@pytest.fixture(scope="module")
def hostile_payouts(stack: Stack) -> dict[str, BetSnapshot]:
    return {case.name: place_with_hostile_payout(stack, case) for case in HOSTILE_PAYOUTS}


def place_with_hostile_payout(stack: Stack, case: PayoutCase) -> BetSnapshot:
    """A bet the provider settled, but whose payout it words in a way nobody may believe,
    on every answer; under the ``refunder`` policy (a 3 s deadline)."""
    ref = f"hostile-{secrets.token_hex(6)}"
    stack.sim("POST", "/_sim/bets", {"bet_ref": ref, "stake": "10.00", "currency": "EUR",
                                     "fate": "returned", "payout": str(PAYOUT),
                                     "payout_sent": case.sent})
    return place_bet(stack.context, bet_payload("refunder", ref)).bet


@pytest.mark.parametrize("case", [case.param() for case in HOSTILE_PAYOUTS])
def test_a_payout_in_foreign_digits_or_with_a_sign_never_settles_and_ends_with_a_person(
    stack: Stack, hostile_payouts: dict[str, BetSnapshot], case: PayoutCase
) -> None:
    bet = hostile_payouts[case.name]

    in_review = stack.wait_for_state(bet.id, BetState.IN_REVIEW, timeout=DECIDED_WITHIN)

    history = stack.history(bet.id)
    kinds = [event.kind for event in history]
    errors = [e for e in answers_history(history) if e.kind in ("provider_error",
                                                                  "cancel_failed")]
    assert errors and "cancel_failed" in kinds, kinds
    for error in errors:
        assert error.detail["error"] == "ProviderInvalidResponse", error.detail
        assert "payout" in error.detail["message"], error.detail["message"]
    assert "bet_settled" not in kinds and in_review.payout is None
    [review] = stack.reviews(bet.id)
    assert review.reason == ReviewReason.DEADLINE.value
    truth = stack.truth()
    assert [r for r in truth["refunds"].values() if r["bet_ref"] == bet.bet_ref] == []
    assert_workers_alive(stack)
