"""Delivering the outbox: at least once per event id, retried with backoff, dead-lettered
after the last attempt, re-sent on an operator's word."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select, update

from betguard.models.domain.outbox import NotificationState, retry_wait
from betguard.models.store.tables import Notification
from betguard.providers.errors import NotificationFailed
from betguard.services.context import Context


class DeliveryOutcome(StrEnum):
    STALE = "stale"  # delivered already, dead, or another delivery holds it
    DELIVERED = "delivered"
    RETRY = "retry"
    DEAD = "dead"


def deliver(ctx: Context, notification_id: int) -> DeliveryOutcome:
    if ctx.notifier is None:
        return DeliveryOutcome.STALE
    claimed = _claim(ctx, notification_id)
    if claimed is None:
        return DeliveryOutcome.STALE
    event_id, payload, attempts = claimed
    body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    try:
        ctx.notifier.send(event_id, body)
    except NotificationFailed as exc:
        # Text from the wire: PostgreSQL text cannot hold NUL, and the column is short-lived.
        return _failed(ctx, notification_id, attempts, str(exc).replace("\x00", "\\0")[:500])
    _finish(ctx, notification_id, attempts, {"state": NotificationState.DELIVERED.value,
                                             "delivered_at": ctx.clock(), "last_error": None})
    return DeliveryOutcome.DELIVERED


def resend_dead(ctx: Context, event_ids: list[str] | None = None) -> list[int]:
    """Give dead letters (all, or those named) a fresh set of attempts, now."""
    now = ctx.clock()
    with ctx.db.unit_of_work() as session:
        query = (update(Notification)
                 .where(Notification.state == NotificationState.DEAD.value)
                 .values(state=NotificationState.PENDING.value, attempts=0, next_attempt_at=now)
                 .returning(Notification.id))
        if event_ids is not None:
            query = query.where(Notification.event_id.in_(event_ids))
        ids = list(session.scalars(query))
        session.commit()
    for notification_id in ids:
        ctx.scheduler.notify(notification_id, now)
    return ids


def _claim(ctx: Context, notification_id: int) -> tuple[str, dict[str, object], int] | None:
    """Take the next attempt; a duplicate delivery of the same wake-up finds it taken."""
    now = ctx.clock()
    with ctx.db.unit_of_work() as session:
        row = session.execute(
            select(Notification.event_id, Notification.payload, Notification.attempts)
            .where(Notification.id == notification_id,
                   Notification.state == NotificationState.PENDING.value)).one_or_none()
        if row is None:
            return None
        taken = session.execute(
            update(Notification)
            .where(Notification.id == notification_id, Notification.attempts == row.attempts,
                   Notification.state == NotificationState.PENDING.value)
            .values(attempts=row.attempts + 1,
                    next_attempt_at=now + timedelta(seconds=ctx.timing.check_lease)))
        session.commit()
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return row.event_id, row.payload, row.attempts + 1


def _failed(ctx: Context, notification_id: int, attempts: int, error: str) -> DeliveryOutcome:
    if attempts >= ctx.outbox.attempts:
        _finish(ctx, notification_id, attempts,
                {"state": NotificationState.DEAD.value, "last_error": error})
        return DeliveryOutcome.DEAD
    at = ctx.clock() + timedelta(
        seconds=retry_wait(attempts, base=ctx.outbox.retry_base, draw=ctx.draw()))
    _finish(ctx, notification_id, attempts, {"next_attempt_at": at, "last_error": error})
    ctx.scheduler.notify(notification_id, at)
    return DeliveryOutcome.RETRY


def _finish(ctx: Context, notification_id: int, attempts: int,
            values: dict[str, object | datetime | None]) -> None:
    with ctx.db.unit_of_work() as session:
        session.execute(
            update(Notification)
            .where(Notification.id == notification_id, Notification.attempts == attempts,
                   Notification.state == NotificationState.PENDING.value)
            .values(**values))
        session.commit()
