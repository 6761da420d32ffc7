"""Publishing wake-ups to the broker, after commit. A failed publish is logged, not
raised: the bet is already durable and a sweep will dispatch it.

Publishing fails fast when Redis is away (intake must not wait for it): no wake-up
asks for a result (so the result backend is never touched), the connection gives up
at the first refusal (``betguard.config.celery``), and a refused connection is not retried.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from celery import Celery

from betguard.config.celery import (
    BATCH_CHECK_TASK,
    CHECK_TASK,
    NOTIFY_TASK,
    PROVIDER_QUEUE,
    REFUND_TASK,
)
from betguard.config.settings import Settings
from betguard.services.context import utcnow

log = logging.getLogger(__name__)

PUBLISH_RETRY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}


class CeleryScheduler:
    def __init__(self, app: Celery, *, max_countdown: float) -> None:
        self._app = app
        self._max_countdown = max_countdown

    @classmethod
    def from_settings(cls, app: Celery, settings: Settings) -> CeleryScheduler:
        return cls(app, max_countdown=settings.max_countdown)

    def check(self, bet_id: int, attempt: int, at: datetime, *, label: str) -> None:
        self._send(CHECK_TASK, {"bet_id": bet_id, "attempt": attempt, "ref": label}, at, label)

    def check_batch(self, provider: str, checks: list[tuple[int, int]], at: datetime) -> None:
        self._send(BATCH_CHECK_TASK, {"provider": provider, "checks": [list(c) for c in checks]},
                   at, f"{provider} ({len(checks)} bets)")

    def refund(self, bet_id: int, at: datetime, *, label: str,
               attempt: int | None = None) -> None:
        """``attempt``: the bet's current attempt number, so a duplicate or stale delivery
        does nothing; without it the refund is taken only while no attempt holds it."""
        kwargs: dict[str, Any] = {"bet_id": bet_id, "ref": label}
        if attempt is not None:
            kwargs["attempt"] = attempt
        self._send(REFUND_TASK, kwargs, at, label)

    def notify(self, notification_id: int, at: datetime) -> None:
        self._send(NOTIFY_TASK, {"notification_id": notification_id}, at,
                   f"notification {notification_id}")

    def backlog(self) -> int:
        """Messages waiting in the provider queue. Countdowns are held by the workers, so
        these are wake-ups due now that no worker has taken yet."""
        try:
            with self._app.connection_for_read() as connection:
                declared = connection.default_channel.queue_declare(queue=PROVIDER_QUEUE)
                return int(declared.message_count)
        except Exception as exc:  # the broker is away: sweeps go ahead and log what fails
            log.warning("could not read the provider queue's length (%s)", exc)
            return 0

    def _send(self, task: str, kwargs: dict[str, Any], at: datetime, label: str) -> None:
        countdown = max(0.0, (at - utcnow()).total_seconds())
        if countdown > self._max_countdown:
            # Long waits live in the database only; a sweep dispatches them when due.
            return
        try:
            self._publish(task, kwargs, countdown,
                          label if task == BATCH_CHECK_TASK else repr(kwargs))
        except Exception as exc:  # the broker is down: the sweep backs this up
            log.warning("bet %s: could not publish %s (%s); a sweep will dispatch it",
                        label, task, exc)

    def _publish(self, task: str, kwargs: dict[str, Any], countdown: float, shown: str) -> None:
        """Publish once; only if that fails, again under the retry policy (kombu's retrying
        publish costs more CPU than the publish itself, so it is kept for failures).
        ``shown`` is what Flower shows for the arguments: given, so that Celery does not
        build its size-limited repr of them for every message (a batch shows its label)."""
        options = {"kwargs": kwargs, "countdown": countdown, "argsrepr": "()",
                   "kwargsrepr": shown, "ignore_result": True}
        try:
            self._app.send_task(task, retry=False, **options)
        except Exception as exc:
            if refused(exc):  # Redis is not there: retrying only makes the caller wait
                raise
            # A broken pooled connection, Redis restarting: try again, briefly.
            self._app.send_task(task, retry=True, retry_policy=PUBLISH_RETRY, **options)


def refused(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it wraps) is a refused or timed-out connection."""
    seen: BaseException | None = exc
    for _ in range(10):  # exception chains are short; bounded all the same
        if seen is None:
            return False
        if isinstance(seen, ConnectionRefusedError | TimeoutError) or \
                "Connection refused" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
