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

from betguard.models.domain import transitions
from betguard.models.domain.states import BetState
from betguard.models.store import bulk, sweep_stats
from betguard.models.store import notifications as outbox
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
            sweep_stats.count_run(session, kind, items=run.items, at=run.at, seconds=run.seconds)
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
    with ctx.db.unit_of_work() as session:
        taken = outbox.take_overdue(
            session, due_by=now - timedelta(seconds=ctx.timing.due_grace),
            lease_until=now + timedelta(seconds=ctx.timing.check_lease),
            limit=limit or ctx.timing.sweep_batch)
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
