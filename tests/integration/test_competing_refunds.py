"""Competing refunds: the provider pushes its own rollback of a bet into the wallet while
betguard refunds the same bet. The wallet pays each bet's stake back once, whoever asks
first; the other gets a signed 409 "already refunded", which betguard reads as the stake
being back: the bet ends refunded, its event naming who paid. Real workers, the real
simulator's wallet."""

from __future__ import annotations

import random
import secrets
import threading
import time
from decimal import Decimal
from typing import Any

import pytest
import requests

from betguard.models.domain.states import BetState
from betguard.models.store.tables import AuditEvent
from betguard.providers.errors import WalletRejected
from betguard.providers.wallet import refund_idempotency_key
from tests.integration.harness import Stack

pytestmark = pytest.mark.integration

PROVIDER = "refunder"  # a 3 s deadline, then cancel and refund


def rollback(stack: Stack, bet_ref: str, *, provider: str = PROVIDER,
             amount: str = "10.00") -> requests.Response:
    """The provider pays the bet's stake back on its own (the simulator's control)."""
    return requests.post(stack.sim_url + "/_sim/rollback", json={
        "provider": provider, "bet_ref": bet_ref, "amount": amount, "currency": "EUR"},
        timeout=10)


def ledger(stack: Stack, bet_ref: str) -> list[dict[str, Any]]:
    """The wallet's payments for one bet."""
    return [r for r in stack.truth()["refunds"].values() if r["bet_ref"] == bet_ref]


def refunded_event(stack: Stack, bet_id: int) -> AuditEvent:
    [event] = [e for e in stack.history(bet_id) if e.kind == "bet_refunded"]
    return event


def test_a_rollback_pushed_first_is_the_one_payment_and_the_bet_ends_refunded_paid_by_the_provider(
    stack: Stack,
) -> None:
    bet = stack.place(PROVIDER, fate="never")

    pushed = rollback(stack, bet.bet_ref)
    assert pushed.status_code == 201, pushed.text  # nothing had paid the stake back yet
    stack.wait_for_state(bet.id, BetState.REFUNDED)

    event = refunded_event(stack, bet.id)
    assert event.detail["paid_by"] == "provider"
    assert event.detail["refund_id"] == pushed.json()["refund_id"]
    key = refund_idempotency_key(PROVIDER, bet.bet_ref)
    assert event.detail["idempotency_key"] == key
    [payment] = ledger(stack, bet.bet_ref)
    assert (payment["by"], payment["amount"]) == ("provider", "10.00")
    refused = stack.truth()["refused_refunds"][key]
    assert (refused["by"], refused["refunded_by"]) == ("betguard", "provider")


def test_a_rollback_after_betguards_refund_is_refused_naming_betguards_refund(
    stack: Stack,
) -> None:
    bet = stack.place(PROVIDER, fate="never")
    stack.wait_for_state(bet.id, BetState.REFUNDED)
    event = refunded_event(stack, bet.id)
    assert event.detail["paid_by"] == "betguard"

    pushed = rollback(stack, bet.bet_ref)

    assert pushed.status_code == 409
    assert pushed.json() == {"error": "already refunded", "refund_id": event.detail["refund_id"],
                             "bet_ref": bet.bet_ref, "provider": PROVIDER,
                             "refunded_by": "betguard"}
    [payment] = ledger(stack, bet.bet_ref)
    assert (payment["by"], payment["idempotency_key"]) == (
        "betguard", refund_idempotency_key(PROVIDER, bet.bet_ref))


def test_rollbacks_racing_betguards_refunds_leave_one_payment_per_bet_and_every_bet_refunded(
    stack: Stack,
) -> None:
    bets = [stack.place(PROVIDER, fate="never") for _ in range(16)]
    answers: dict[str, requests.Response] = {}
    rng = random.Random(16)
    # Spread around the 3 s deadline, where betguard cancels and refunds.
    delays = {bet.bet_ref: rng.uniform(1.5, 4.5) for bet in bets}
    started = time.monotonic()

    def push(bet_ref: str) -> None:
        time.sleep(max(0.0, started + delays[bet_ref] - time.monotonic()))
        answers[bet_ref] = rollback(stack, bet_ref)

    threads = [threading.Thread(target=push, args=(bet.bet_ref,)) for bet in bets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    finished = [stack.wait_for_state(bet.id, BetState.REFUNDED) for bet in bets]

    assert [bet.state for bet in finished] == [BetState.REFUNDED] * len(bets)
    truth = stack.truth()
    for bet in bets:
        payments = [r for r in truth["refunds"].values() if r["bet_ref"] == bet.bet_ref]
        assert len(payments) == 1, f"{bet.bet_ref}: {payments}"
        [payment] = payments
        event = refunded_event(stack, bet.id)
        assert (event.detail["paid_by"], event.detail["refund_id"]) == (
            payment["by"], payment["refund_id"]), bet.bet_ref
        answer = answers[bet.bet_ref]
        if payment["by"] == "provider":
            assert answer.status_code == 201 and answer.json()["refund_id"] == payment["refund_id"]
        else:
            assert answer.status_code == 409
            assert answer.json()["refunded_by"] == "betguard"
            assert answer.json()["refund_id"] == payment["refund_id"]
    paid = sum(Decimal(r["amount"]) for r in truth["refunds"].values()
               if r["bet_ref"] in {bet.bet_ref for bet in bets})
    assert paid == Decimal("10.00") * len(bets)


# -- the wallet's rule, spoken to directly ----------------------------------------------


def test_after_a_rollback_betguards_refund_is_a_receipt_of_it_and_its_replay_the_same(
    stack: Stack,
) -> None:
    ref = f"cr-{secrets.token_hex(6)}"  # no bet: the wallet alone
    pushed = rollback(stack, ref).json()
    key = refund_idempotency_key(PROVIDER, ref)

    receipts = [stack.context.wallet.refund(idempotency_key=key, provider=PROVIDER, bet_ref=ref,
                                            amount=Decimal("10.00"), currency="EUR")
                for _ in range(2)]

    assert [(r.refund_id, r.idempotency_key, r.paid_by) for r in receipts] == [
        (pushed["refund_id"], key, "provider")] * 2
    truth = stack.truth()
    assert [r["by"] for r in truth["refunds"].values() if r["bet_ref"] == ref] == ["provider"]
    assert truth["refused_refunds"][key]["requests"] == 2


def test_a_rollback_pushed_twice_is_a_replay_and_pays_once(stack: Stack) -> None:
    ref = f"cr-{secrets.token_hex(6)}"
    first, again = rollback(stack, ref), rollback(stack, ref)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert len(ledger(stack, ref)) == 1


def test_the_same_bet_of_another_provider_is_another_payment(stack: Stack) -> None:
    ref = f"cr-{secrets.token_hex(6)}"
    assert rollback(stack, ref).status_code == 201
    assert rollback(stack, ref, provider="reviewer").status_code == 201
    assert len(ledger(stack, ref)) == 2


def test_any_other_409_stays_a_refusal(stack: Stack) -> None:
    ref = f"cr-{secrets.token_hex(6)}"
    key = refund_idempotency_key(PROVIDER, ref)
    wallet = stack.context.wallet
    wallet.refund(idempotency_key=key, provider=PROVIDER, bet_ref=ref, amount=Decimal("10.00"),
                  currency="EUR")
    with pytest.raises(WalletRejected, match="idempotency key reused"):
        wallet.refund(idempotency_key=key, provider=PROVIDER, bet_ref=ref,
                      amount=Decimal("11.00"), currency="EUR")


def test_a_malformed_rollback_is_refused_naming_the_field(stack: Stack) -> None:
    answer = requests.post(stack.sim_url + "/_sim/rollback", json={
        "provider": PROVIDER, "bet_ref": "cr-x", "amount": 10.0, "currency": "EUR"}, timeout=10)
    assert answer.status_code == 400 and answer.json()["field"] == "amount"
    assert ledger(stack, "cr-x") == []
