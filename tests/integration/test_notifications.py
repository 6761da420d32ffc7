"""The game server hears of every final outcome and every review: signed, at least
once per event id, retried with backoff, dead-lettered when it never answers."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from betguard.models.domain.money import wire_amount
from betguard.models.domain.states import BetState
from betguard.services.results import report_result
from tests.integration.harness import Stack, wait_until

pytestmark = pytest.mark.integration


def betguard(stack: Stack, *args: str) -> Any:
    done = subprocess.run([str(Path(sys.executable).parent / "betguard"), *args],
                          env=stack.env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)



@pytest.fixture
def receiver_restored(stack: Stack) -> Iterator[None]:
    yield
    assert stack.receiver is not None
    stack.receiver.down, stack.receiver.fail_next = False, 0


def test_a_refunded_bet_is_notified_once_per_event_even_when_first_deliveries_fail(
    stack: Stack, receiver_restored: None
) -> None:
    receiver = stack.receiver
    assert receiver is not None
    bet = stack.place("refunder", fate="never")
    receiver.fail_next = 2

    stack.wait_for_state(bet.id, BetState.REFUNDED)
    wait_until(lambda: all(n.state == "delivered" for n in stack.notifications(bet.id)), 30)

    [notification] = stack.notifications(bet.id)
    assert notification.kind == "bet_refunded"
    assert receiver.deliveries_per_event(bet.bet_ref) == {notification.event_id: 1}
    [delivered] = receiver.for_bet(bet.bet_ref)
    assert delivered["event"] == "bet_refunded" and delivered["state"] == "refunded"
    assert delivered["stake"] == wire_amount(bet.stake)
    assert receiver.bad_signatures == 0


def test_a_review_and_a_settlement_are_each_notified(stack: Stack) -> None:
    receiver = stack.receiver
    assert receiver is not None
    bet = stack.place("reviewer", fate="never")
    stack.wait_for_state(bet.id, BetState.IN_REVIEW)
    settled = stack.place("patient", fate="returned", payout="4.00")
    report_result(stack.context, "patient", settled.bet_ref, payout="4.00", currency="EUR")

    wait_until(lambda: receiver.for_bet(bet.bet_ref) and receiver.for_bet(settled.bet_ref), 30)

    [review] = receiver.for_bet(bet.bet_ref)
    assert review["event"] == "review_opened" and review["reason"] == "deadline"
    [result] = receiver.for_bet(settled.bet_ref)
    assert result["event"] == "bet_settled" and result["payout"] == "4.00"


def test_a_receiver_down_for_the_whole_retry_window_leaves_a_dead_letter_that_can_be_resent(
    stack: Stack, receiver_restored: None
) -> None:
    receiver = stack.receiver
    assert receiver is not None
    receiver.down = True
    bet = stack.place("patient", fate="returned", payout="9.00")
    report_result(stack.context, "patient", bet.bet_ref, payout="9.00", currency="EUR")

    wait_until(lambda: [n.state for n in stack.notifications(bet.id)] == ["dead"], 30,
               lambda: str([(n.state, n.attempts) for n in stack.notifications(bet.id)]))
    [dead] = stack.notifications(bet.id)
    assert dead.attempts == 4 and "503" in (dead.last_error or "")
    assert receiver.for_bet(bet.bet_ref) == []

    stats = betguard(stack, "stats", "--json")
    assert stats["dead_letters"] >= 1 and stats["notifications"]["dead"] >= 1
    listed = betguard(stack, "notifications", "list", "--dead", "--json")
    assert dead.event_id in [n["event_id"] for n in listed]

    receiver.down = False
    assert betguard(stack, "notifications", "resend", dead.event_id, "--json") == {"resent": 1}
    wait_until(lambda: receiver.for_bet(bet.bet_ref), 30)
    assert receiver.deliveries_per_event(bet.bet_ref) == {dead.event_id: 1}
    assert [n.state for n in stack.notifications(bet.id)] == ["delivered"]
