"""Sweeps: the safety net under the broker. They find work whose wake-up was lost
(or never published) in the database and send it again.

Each sweep is bounded per run and marks what it dispatches with a lease in the
same UPDATE that selects it, so two overlapping sweeps never send the same bet. It
skips rows another transaction holds (``FOR UPDATE SKIP LOCKED``): a check concluding
hundreds of bets locks them one by one, and a sweep that waited for them while holding
its own rows, in another order, could deadlock with it. A row skipped now is due at
the next run.
Each run is counted in ``sweep_stats`` (metrics and alerts read it there: beat and
its worker keep nothing between runs).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from betguard.models.domain import transitions
from betguard.models.domain.outbox import NotificationState
from betguard.models.domain.states import BetState
from betguard.models.store import bulk
from betguard.models.store.tables import Notification, SweepStat
from betguard.services.context import Context
from betguard.services.wakeups import DueCheck, wake_checks


@dataclass(frozen=True)
class SweepReport:
    checks_dispatched: int
    refunds_dispatched: int
    notifications_dispatched: int
    backlog: int = 0  # wake-ups already waiting for a worker when the sweep began


@dataclass(frozen=True)
class SweepRun:
    items: int
    at: datetime  # when it finished
    seconds: float


Sweep = Callable[[Context, int], int]


def run_sweeps(ctx: Context) -> SweepReport:
    """Checks first (deadlines), then refunds (money), then notifications. Together they
    fill the provider queue up to ``sweep_backlog_limit`` at most: when workers fall
    behind, what waits in the queue is late, not lost, and more copies of it would only
    make every wake-up later still (the lease of each sends it again in time)."""
    backlog = ctx.scheduler.backlog()
    room = max(0, ctx.timing.sweep_backlog_limit - backlog)
    sweeps: dict[str, Sweep] = {
        "checks": sweep_due_checks, "refunds": sweep_due_refunds,
        "notifications": sweep_due_notifications,
    }
    runs = {}
    for kind, sweep in sweeps.items():
        runs[kind] = _timed(ctx, sweep, min(room, ctx.timing.sweep_batch))
        room -= runs[kind].items
    with ctx.db.unit_of_work() as session:
        for kind, run in runs.items():
            record_run(session, kind, run)
        session.commit()
    return SweepReport(
        checks_dispatched=runs["checks"].items,
        refunds_dispatched=runs["refunds"].items,
        notifications_dispatched=runs["notifications"].items,
        backlog=backlog,
    )


def _timed(ctx: Context, sweep: Sweep, limit: int) -> SweepRun:
    started = time.perf_counter()
    items = sweep(ctx, limit) if limit > 0 else 0
    return SweepRun(items, ctx.clock(), time.perf_counter() - started)


def record_run(session: Session, kind: str, run: SweepRun) -> None:
    """Count one run of ``kind``. Increments happen in the UPDATE itself, so two
    overlapping sweeps both count; the row is created on first use, and a second
    sweep creating it at the same moment is ignored (ON CONFLICT DO NOTHING)."""
    values = {"runs": SweepStat.runs + 1, "items": SweepStat.items + run.items,
              "last_run_at": run.at, "last_duration_seconds": run.seconds}
    counted = update(SweepStat).where(SweepStat.kind == kind).values(**values)
    if session.execute(counted).rowcount == 1:  # type: ignore[attr-defined]
        return
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(dialect.insert(SweepStat)
                    .values(kind=kind, runs=0, items=0)
                    .on_conflict_do_nothing(index_elements=["kind"]))
    session.execute(counted)


def sweep_due_checks(ctx: Context, limit: int | None = None) -> int:
    """Dispatch checks that are due but whose wake-up is late: lost messages,
    waits longer than a countdown may be, checks whose worker died (lease over),
    and bets whose deadline passed without their last check."""
    rows = _take_due(ctx, BetState.PENDING, limit)
    now = ctx.clock()
    wake_checks(ctx, [DueCheck(bet_id, attempt, provider, label, now)
                      for bet_id, attempt, provider, label in rows])
    return len(rows)


def sweep_due_refunds(ctx: Context, limit: int | None = None) -> int:
    """Dispatch refunds still in doubt or whose wake-up was lost, for the attempt each
    holds (a refund whose retries stopped has no next check: no sweep takes it)."""
    rows = _take_due(ctx, BetState.REFUND_PENDING, limit)
    for bet_id, attempt, _provider, label in rows:
        ctx.scheduler.refund(bet_id, ctx.clock(), label=label, attempt=attempt)
    return len(rows)


def sweep_due_notifications(ctx: Context, limit: int | None = None) -> int:
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
        .limit(limit or ctx.timing.sweep_batch)
        .with_for_update(skip_locked=True)
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


def _take_due(ctx: Context, state: BetState,
              limit: int | None) -> list[tuple[int, int, str, str]]:
    now = ctx.clock()
    lease = transitions.lease_due(
        state, due_by=now - timedelta(seconds=ctx.timing.due_grace),
        until=now + timedelta(seconds=ctx.timing.check_lease))
    with ctx.db.unit_of_work() as session:
        # Skipping rows others hold: see the module's docstring.
        taken = bulk.take_due(session, lease, limit=limit or ctx.timing.sweep_batch, now=now)
        session.commit()
    return [(bet_id, attempt, provider, f"{provider}/{ref}")
            for bet_id, attempt, provider, ref in taken]
