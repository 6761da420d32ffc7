"""One live check and one refund in flight per bet: an operator's re-check while a
check waits for the provider sends no second one, and a refund delivered again while
the wallet is still answering the first does not call the wallet again. On the
running stack: the simulator holds the answers, real workers take the deliveries."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from betguard.messaging.scheduler import CeleryScheduler
from betguard.models.domain import transitions
from betguard.models.domain.snapshot import BetSnapshot
from betguard.models.domain.states import BetState
from betguard.models.store import repository
from betguard.services.context import utcnow
from betguard.services.intake import place_bet
from tests.integration.api_server import Api
from tests.integration.harness import Stack, bet_payload, wait_until

pytestmark = pytest.mark.integration

HELD_SECONDS = 3.0  # a faulted answer is held this long (below the clients' read timeouts)
ANSWERS = ("provider_answered", "provider_error")



@pytest.fixture
def held_answers(stack: Stack) -> Iterator[None]:
    stack.sim("POST", "/_sim/knobs", {"timeout_seconds": HELD_SECONDS})
    try:
        yield
    finally:
        stack.sim("POST", "/_sim/knobs", {"timeout_seconds": 5.0})


def test_a_recheck_ordered_while_a_check_waits_for_the_provider_sends_no_second_check(
    stack: Stack, api: Api, held_answers: None,
) -> None:
    ref = f"inflight-{secrets.token_hex(6)}"
    stack.sim("POST", "/_sim/bets", {"bet_ref": ref, "stake": "10.00", "currency": "EUR",
                                     "fate": "never"})
    stack.sim("POST", "/_sim/faults", {"bet_ref": ref, "fault": "timeout", "times": 1})
    bet = place_bet(stack.context, bet_payload("slow", ref)).bet
    wait_until(lambda: stack.kinds(bet.id)[-1] == "check_started", 10)

    answer = api.ops("POST", f"/bets/slow/{ref}/recheck")

    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["ordered"] is False and body["in_flight_until"] is not None
    assert "its answer will come" in body["message"]
    wait_until(lambda: any(kind in ANSWERS for kind in stack.kinds(bet.id)), 20)
    history = stack.kinds(bet.id)
    first_answer = min(history.index(kind) for kind in ANSWERS if kind in history)
    assert history[:first_answer].count("check_started") == 1, history
    assert "recheck_ordered" not in history
    assert stack.truth()["bets"][ref]["queries"] >= 1
    report = api.game("POST", f"/bets/slow/{ref}/result", json={"payout": "0", "currency": "EUR"})
    assert report.status_code == 200, report.text


def refund_decided(stack: Stack) -> BetSnapshot:
    """A bet whose refund was just decided, as a check deciding it leaves it."""
    bet = stack.place("sleepy", fate="never")  # its first check is a minute away
    now = utcnow()
    with stack.context.db.unit_of_work() as session:
        change = transitions.decide_refund(bet, actor="betguard", why="test", now=now)
        assert repository.apply(session, bet, change, now=now)
        session.commit()
    return stack.bet(bet.id)


def celery_scheduler(stack: Stack) -> CeleryScheduler:
    scheduler = stack.context.scheduler
    assert isinstance(scheduler, CeleryScheduler)
    return scheduler



@pytest.mark.parametrize("with_attempt", [False, True], ids=["legacy wake-up", "with attempt"])
def test_a_refund_delivered_again_while_the_wallet_answers_the_first_calls_it_once(
    stack: Stack, held_answers: None, with_attempt: bool,
) -> None:
    stack.sim("POST", "/_sim/faults", {"target": "wallet", "fault": "timeout", "times": 1})
    bet = refund_decided(stack)
    attempt = {"attempt": bet.check_attempt} if with_attempt else {}
    scheduler = celery_scheduler(stack)
    scheduler.refund(bet.id, utcnow(), label=bet.label, **attempt)
    wait_until(lambda: stack.refund_requests(bet) == 1, 10)  # the first is at the wallet

    scheduler.refund(bet.id, utcnow(), label=bet.label, **attempt)

    wait_until(lambda: stack.row(bet.id).duplicate_deliveries >= 1, 10)
    assert stack.wait_for_state(bet.id, BetState.REFUNDED)
    assert stack.refund_requests(bet) == 1
    assert stack.kinds(bet.id).count("refund_started") == 1


def test_a_stale_refund_delivery_is_counted_and_pays_nothing(stack: Stack) -> None:
    bet = refund_decided(stack)
    stack.wait_for_state(bet.id, BetState.REFUNDED)
    duplicates = stack.row(bet.id).duplicate_deliveries
    celery_scheduler(stack).refund(bet.id, utcnow(), label=bet.label,
                                   attempt=bet.check_attempt)
    wait_until(lambda: stack.row(bet.id).duplicate_deliveries == duplicates + 1, 10)
    assert stack.refund_requests(bet) == 1
    assert stack.kinds(bet.id).count("refund_started") == 1
