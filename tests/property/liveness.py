"""Nothing is lost: the sweeps, every wake-up still in the broker and time past every
deadline must bring each bet to settled, refunded or review; and once the ops team has
decided every review, the same again carries their decisions out."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING

from betguard.models.domain.events import Resolution
from betguard.services.refunds import REJECTED_RETRY_FACTOR

if TYPE_CHECKING:
    from tests.property.machine import BetLifecycle

ROUNDS = 8
DELIVERIES_PER_ROUND = 500
OPEN = ("pending", "refund_pending")
DECISIONS = (Resolution.SETTLED, Resolution.REFUNDED, Resolution.RECHECK)


@contextmanager
def catching_up(machine: BetLifecycle) -> Iterator[None]:
    """Steps taken here are part of one rule (or of the teardown), not steps of their own."""
    machine.draining = True
    try:
        yield
    finally:
        machine.draining = False


def drain(machine: BetLifecycle) -> None:
    with catching_up(machine):
        _drain(machine)


def decide_every_review(machine: BetLifecycle) -> None:
    """The ops team works the whole queue: each bet in review is settled, refunded or
    checked again (by turns); each conflict on a decided bet is acknowledged."""
    with catching_up(machine):
        for pick, bet in enumerate(machine.placed):
            if machine.seen.open_reviews(bet.bet_id):
                machine.resolve_a_review(pick, with_review=False, fitting=True, payout="provider",
                                         resolution=DECISIONS[bet.bet_id % len(DECISIONS)])
                machine.every_invariant_holds()


def _drain(machine: BetLifecycle) -> None:
    timing = machine.ctx.timing
    slack = timedelta(seconds=timing.check_lease + timing.due_grace + 1
                      + timing.refund_retry_delay * REJECTED_RETRY_FACTOR)
    for round_number in range(ROUNDS + 1):
        open_bets = [b for b in machine.seen.bets.values() if b.state in OPEN]
        if not open_bets:
            return
        if round_number == ROUNDS:
            break
        latest = max(max(b.deadline, b.next_check_at or b.deadline) for b in open_bets)
        machine.clock.reach(latest + slack)
        machine.run_the_sweeps()
        machine.every_invariant_holds()
        deliver_everything(machine)
    stuck = [b.label for b in machine.seen.bets.values() if b.state in OPEN]
    raise AssertionError(f"still open after {ROUNDS} rounds of sweeps and deliveries: {stuck}")


def deliver_everything(machine: BetLifecycle) -> None:
    for _ in range(DELIVERIES_PER_ROUND):
        if not machine.scheduler.queued():
            return
        machine.deliver_the_next_wakeup()
        machine.every_invariant_holds()
    raise AssertionError(f"more than {DELIVERIES_PER_ROUND} wake-ups in one round")
