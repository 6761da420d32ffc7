"""Hostile notification receivers: whatever the game server's endpoint does — hang,
redirect, stream without end, hang up, answer garbage — the notification ends
delivered or dead-lettered as designed, the workers live on, and the bet it is about
does not change.

Each case's bet is settled at once, with the receiver hostile to its deliveries
only; all cases run at the same time.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from betguard.models.domain.snapshot import BetSnapshot
from betguard.models.store.tables import Notification
from betguard.services.intake import place_bet
from betguard.services.results import report_result
from tests.badinput.receiver_cases import (
    CASES,
    DECIDED_WITHIN,
    HELD_AT_MOST,
    ReceiverCase,
)
from tests.integration.harness import Stack, bet_payload, wait_until
from tests.integration.receiver import Mode, Receiver

pytestmark = pytest.mark.integration

@dataclass(frozen=True)
class Settled:
    bet: BetSnapshot
    kinds: list[str]  # the bet's history right after it was settled


@dataclass(frozen=True)
class Launched:
    at: float
    bets: dict[Mode, Settled]


def the_receiver(stack: Stack) -> Receiver:
    assert stack.receiver is not None
    return stack.receiver


@pytest.fixture(scope="module")
def launched(stack: Stack) -> Iterator[Launched]:
    receiver = the_receiver(stack)
    started = time.monotonic()
    try:
        yield Launched(started, {case.mode: settle_with(stack, receiver, case) for case in CASES})
    finally:
        receiver.calm()  # other tests share the receiver


def settle_with(stack: Stack, receiver: Receiver, case: ReceiverCase) -> Settled:
    """A bet settled by the game server's report, whose notification meets ``case``."""
    ref = f"hostile-rx-{secrets.token_hex(6)}"
    bet = place_bet(stack.context, bet_payload("sleepy", ref)).bet  # no check in the way
    receiver.be_hostile(ref, case.mode, case.times)
    report_result(stack.context, "sleepy", ref, payout="4.00", currency="EUR")
    return Settled(stack.bet(bet.id), stack.kinds(bet.id))



@pytest.mark.parametrize("case", [case.param() for case in CASES])
def test_a_hostile_receiver_leaves_the_notification_delivered_or_dead_and_the_bet_unchanged(
    stack: Stack, launched: Launched, case: ReceiverCase
) -> None:
    settled = launched.bets[case.mode]
    bet_id, receiver = settled.bet.id, the_receiver(stack)

    def decided() -> Notification | None:
        [row] = stack.notifications(bet_id)
        return row if row.state in ("delivered", "dead") else None

    remaining = launched.at + DECIDED_WITHIN - time.monotonic()
    row = wait_until(decided, max(remaining, 0.5), lambda: str(
        [(n.state, n.attempts, n.last_error) for n in stack.notifications(bet_id)]))

    assert (row.state, row.attempts) == (case.state, case.attempts), row.last_error
    assert case.error in (row.last_error or ""), row.last_error
    delivered = receiver.deliveries_per_event(settled.bet.bet_ref)
    assert delivered == ({row.event_id: 1} if case.state == "delivered" else {})
    hostile = case.times if case.times is not None else case.attempts
    assert receiver.hostile_answers[settled.bet.bet_ref] == hostile
    assert all(seconds < HELD_AT_MOST for seconds in receiver.stream_seconds(
        settled.bet.bet_ref)), "no hostile answer holds a worker past the read timeout"
    assert receiver.followed_redirects == 0, "a redirect is never followed"
    assert stack.bet(bet_id) == settled.bet, "the bet did not change"
    assert stack.kinds(bet_id) == settled.kinds, "nor did its history"
    for worker in stack.workers:
        assert worker.alive(), f"{worker.name} died: {worker.log.read_text()[-3000:]}"
