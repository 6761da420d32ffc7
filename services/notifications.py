"""Delivering the outbox: at least once per event id, retried with backoff, dead-lettered
after the last attempt, re-sent on an operator's word."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from enum import StrEnum

from betguard.models.domain.outbox import NotificationState, retry_wait
from betguard.models.store import notifications as outbox
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
        ids = outbox.revive_dead(session, event_ids, now=now)
        session.commit()
    for notification_id in ids:
        ctx.scheduler.notify(notification_id, now)
    return ids


def _claim(ctx: Context, notification_id: int) -> outbox.Taken | None:
    """Take the next attempt; a duplicate delivery of the same wake-up finds it taken."""
    lease_until = ctx.clock() + timedelta(seconds=ctx.timing.check_lease)
    with ctx.db.unit_of_work() as session:
        taken = outbox.take_attempt(session, notification_id, lease_until=lease_until)
        session.commit()
    return taken


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
        outbox.finish_attempt(session, notification_id, attempts, values)
        session.commit()
