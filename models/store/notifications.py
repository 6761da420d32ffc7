"""The outbox as stored: every change of a notification's row is conditional on the
attempt it was read at and on its state, so two deliveries (or a delivery and a sweep)
never both take one attempt."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import select, update

from betguard.models.domain.outbox import NotificationState
from betguard.models.store.db import Session
from betguard.models.store.tables import Notification

_PENDING = NotificationState.PENDING.value


class Taken(NamedTuple):
    """A notification's attempt, taken: what to send, and the attempt's number."""

    event_id: str
    payload: dict[str, Any]
    attempt: int


def take_attempt(session: Session, notification_id: int, *, lease_until: datetime) -> Taken | None:
    """Take the pending notification's next attempt (its next try moved to
    ``lease_until``); None when it is not pending or another delivery took it first."""
    row = session.execute(
        select(Notification.event_id, Notification.payload, Notification.attempts)
        .where(Notification.id == notification_id,
               Notification.state == _PENDING)).one_or_none()
    if row is None:
        return None
    taken = session.execute(
        update(Notification)
        .where(Notification.id == notification_id, Notification.attempts == row.attempts,
               Notification.state == _PENDING)
        .values(attempts=row.attempts + 1, next_attempt_at=lease_until))
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return Taken(row.event_id, row.payload, row.attempts + 1)


def finish_attempt(session: Session, notification_id: int, attempt: int,
                   values: dict[str, object | datetime | None]) -> None:
    """Write the outcome of ``attempt``, if it is still the pending notification's."""
    session.execute(
        update(Notification)
        .where(Notification.id == notification_id, Notification.attempts == attempt,
               Notification.state == _PENDING)
        .values(**values))


def revive_dead(session: Session, event_ids: list[str] | None, *, now: datetime) -> list[int]:
    """Give dead letters (all, or those of ``event_ids``) a fresh set of attempts, due now."""
    query = (update(Notification)
             .where(Notification.state == NotificationState.DEAD.value)
             .values(state=_PENDING, attempts=0, next_attempt_at=now)
             .returning(Notification.id))
    if event_ids is not None:
        query = query.where(Notification.event_id.in_(event_ids))
    return list(session.scalars(query))


def take_overdue(session: Session, *, due_by: datetime, lease_until: datetime,
                 limit: int) -> list[int]:
    """Lease up to ``limit`` pending notifications due by ``due_by`` (oldest first,
    skipping rows another transaction holds) until ``lease_until``; their ids."""
    due = (
        select(Notification.id)
        .where(Notification.state == _PENDING, Notification.next_attempt_at <= due_by)
        .order_by(Notification.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(session.scalars(
        update(Notification)
        .where(Notification.id.in_(due.scalar_subquery()),
               Notification.state == _PENDING, Notification.next_attempt_at <= due_by)
        .values(next_attempt_at=lease_until)
        .returning(Notification.id)
        .execution_options(synchronize_session=False)))
