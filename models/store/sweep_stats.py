"""Counting sweep runs in ``sweep_stats``: metrics and alerts read them there (beat and
its worker keep nothing between runs)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update

from betguard.models.store.db import Session, conflict_insert
from betguard.models.store.tables import SweepStat


def count_run(session: Session, kind: str, *, items: int, at: datetime,
              seconds: float) -> None:
    """Count one run of ``kind``. Increments happen in the UPDATE itself, so two
    overlapping sweeps both count; the row is created on first use, and a second
    sweep creating it at the same moment is ignored (ON CONFLICT DO NOTHING)."""
    values = {"runs": SweepStat.runs + 1, "items": SweepStat.items + items,
              "last_run_at": at, "last_duration_seconds": seconds}
    counted = update(SweepStat).where(SweepStat.kind == kind).values(**values)
    if session.execute(counted).rowcount == 1:  # type: ignore[attr-defined]
        return
    session.execute(conflict_insert(session, SweepStat)
                    .values(kind=kind, runs=0, items=0)
                    .on_conflict_do_nothing(index_elements=["kind"]))
    session.execute(counted)
