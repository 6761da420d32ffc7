"""Sweeps: the safety net under the broker. They find work whose wake-up was lost
(or never published) in the database and send it again.

Each sweep is bounded per run and marks what it dispatches with a lease in the
same UPDATE that selects it, so two overlapping sweeps never send the same bet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update

from models import repository
from models.events import EventKind
from models.states import BetState
from models.outbox import NotificationState
from models.tables import Bet, Notification
from models.transitions import NewEvent
from services.context import Context


@dataclass(frozen=True)
class SweepReport:
    checks_dispatched: int
    refunds_dispatched: int
    notifications_dispatched: int


def run_sweeps(ctx: Context) -> SweepReport:
    return SweepReport(
        checks_dispatched=sweep_due_checks(ctx),
        refunds_dispatched=sweep_due_refunds(ctx),
        notifications_dispatched=sweep_due_notifications(ctx),
    )


def sweep_due_checks(ctx: Context) -> int:
    """Dispatch checks that are due but whose wake-up is late: lost messages,
    waits longer than a countdown may be, checks whose worker died (lease over),
    and bets whose deadline passed without their last check."""
    rows = _take_due(ctx, BetState.PENDING, EventKind.CHECK_DISPATCHED_BY_SWEEP)
    for bet_id, attempt, label in rows:
        ctx.scheduler.check(bet_id, attempt, ctx.clock(), label=label)
    return len(rows)


def sweep_due_refunds(ctx: Context) -> int:
    """Dispatch refunds still in doubt or whose wake-up was lost."""
    rows = _take_due(ctx, BetState.REFUND_PENDING, EventKind.REFUND_DISPATCHED_BY_SWEEP)
    for bet_id, _attempt, label in rows:
        ctx.scheduler.refund(bet_id, ctx.clock(), label=label)
    return len(rows)


def sweep_due_notifications(ctx: Context) -> int:
    """Dispatch notifications whose delivery is due but whose wake-up was lost."""
    if ctx.notifier is None:
        return 0
    now = ctx.clock()
    cutoff = now - timedelta(seconds=ctx.timing.due_grace)
    due = (
        select(Notification.id)
        .where(Notification.state == NotificationState.PENDING.value,
               Notification.next_attempt_at <= cutoff)
        .order_by(Notification.next_attempt_at)
        .limit(ctx.timing.sweep_batch)
    )
    with ctx.db.unit_of_work() as session:
        taken = list(session.scalars(
            update(Notification)
            .where(Notification.id.in_(due.scalar_subquery()),
                   Notification.state == NotificationState.PENDING.value,
                   Notification.next_attempt_at <= cutoff)
            .values(next_attempt_at=now + timedelta(seconds=ctx.timing.check_lease))
            .returning(Notification.id)
            .execution_options(synchronize_session=False)))
        session.commit()
    for notification_id in taken:
        ctx.scheduler.notify(notification_id, now)
    return len(taken)


def _take_due(ctx: Context, state: BetState, kind: EventKind) -> list[tuple[int, int, str]]:
    now = ctx.clock()
    cutoff = now - timedelta(seconds=ctx.timing.due_grace)
    lease_until = now + timedelta(seconds=ctx.timing.check_lease)
    due = (
        select(Bet.id)
        .where(Bet.state == state.value, Bet.next_check_at <= cutoff)
        .order_by(Bet.next_check_at)
        .limit(ctx.timing.sweep_batch)
    )
    with ctx.db.unit_of_work() as session:
        taken = session.execute(
            update(Bet)
            .where(Bet.id.in_(due.scalar_subquery()), Bet.state == state.value,
                   Bet.next_check_at <= cutoff)
            .values(next_check_at=lease_until)
            .returning(Bet.id, Bet.check_attempt, Bet.provider, Bet.bet_ref)
            .execution_options(synchronize_session=False)
        ).all()
        for bet_id, attempt, _provider, _ref in taken:
            event = NewEvent(kind, "sweep", {"attempt": attempt})
            repository.add_events(session, bet_id, [event], now=now)
        session.commit()
    return [(bet_id, attempt, f"{provider}/{ref}") for bet_id, attempt, provider, ref in taken]
