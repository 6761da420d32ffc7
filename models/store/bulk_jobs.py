"""Bulk re-checks as stored: the pending bets a job selects, the job and its bets, and
how far it got (a bet is done once it was checked after the job began, or is no longer
pending)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, insert, or_, select
from sqlalchemy.orm import Session

from betguard.models.domain.events import EventKind
from betguard.models.domain.snapshot import BetSnapshot
from betguard.models.domain.states import BetState
from betguard.models.store.repository import SNAPSHOT_COLUMNS
from betguard.models.store.tables import AuditEvent, Bet, BulkJob, BulkJobBet


def pending_in_range(session: Session, provider: str, placed_from: datetime,
                     placed_to: datetime, *, limit: int) -> list[BetSnapshot]:
    rows = session.execute(
        select(*SNAPSHOT_COLUMNS)
        .where(Bet.provider == provider, Bet.state == BetState.PENDING.value,
               Bet.placed_at >= placed_from, Bet.placed_at <= placed_to)
        .order_by(Bet.placed_at, Bet.id).limit(limit)).mappings()
    return [BetSnapshot.of_row(row) for row in rows]


def latest_kinds(session: Session, bet_ids: list[int]) -> dict[int, str]:
    """Each bet's latest event kind (a check in flight ends in ``check_started``)."""
    if not bet_ids:
        return {}
    latest = (select(AuditEvent.bet_id, func.max(AuditEvent.id).label("last"))
              .where(AuditEvent.bet_id.in_(bet_ids)).group_by(AuditEvent.bet_id).subquery())
    rows = session.execute(select(AuditEvent.bet_id, AuditEvent.kind)
                           .join(latest, AuditEvent.id == latest.c.last))
    return {bet_id: kind for bet_id, kind in rows}


def add(session: Session, **values: Any) -> BulkJob:
    job = BulkJob(**values)
    session.add(job)
    session.flush()
    return job


def add_bets(session: Session, job_id: int, bet_ids: list[int]) -> None:
    if bet_ids:
        session.execute(insert(BulkJobBet), [{"job_id": job_id, "bet_id": b} for b in bet_ids])


def get(session: Session, job_id: int) -> BulkJob | None:
    return session.get(BulkJob, job_id)


def recent(session: Session, limit: int = 50) -> list[BulkJob]:
    return list(session.scalars(select(BulkJob).order_by(BulkJob.id.desc()).limit(limit)))


def done_counts(session: Session, jobs: list[BulkJob]) -> dict[int, int]:
    """Per job, its bets checked since it began or no longer pending, in one query."""
    if not jobs:
        return {}
    checked = exists().where(AuditEvent.bet_id == BulkJobBet.bet_id,
                             AuditEvent.kind == EventKind.CHECK_STARTED.value,
                             AuditEvent.at >= BulkJob.requested_at)
    rows = session.execute(
        select(BulkJobBet.job_id, func.count())
        .join(BulkJob, BulkJob.id == BulkJobBet.job_id)
        .join(Bet, Bet.id == BulkJobBet.bet_id)
        .where(BulkJobBet.job_id.in_([job.id for job in jobs]),
               or_(Bet.state != BetState.PENDING.value, checked))
        .group_by(BulkJobBet.job_id))
    return {job_id: int(count) for job_id, count in rows}
