"""The duplicates drill's Celery app: betguard's own app, with every wake-up (a check, a
batch of checks, a refund, a notification) published two to five times in all, as a
broker that delivers a message more than once would deliver it.

The drill starts its workers and beat with ``celery -A betguard_devkit.drills.duplicates``
and loads this module in its own process too (``LaunchPlan.celery_app``), so every process
that publishes wake-ups publishes the copies; the product's scheduler knows nothing of it.
"""

from __future__ import annotations

import random
from typing import Any

from celery.signals import after_task_publish

from betguard.config.celery import BATCH_CHECK_TASK, CHECK_TASK, NOTIFY_TASK, REFUND_TASK
from betguard.messaging.app import app

__all__ = ["app"]

WAKE_UPS = frozenset({CHECK_TASK, BATCH_CHECK_TASK, REFUND_TASK, NOTIFY_TASK})
COPY_HEADER = "betguard-drill-copy"  # marks a copy, so that it is not copied again


def publish_copies(sender: str | None = None, body: Any = None,
                   headers: dict[str, Any] | None = None, **_signal: Any) -> None:
    """Once a wake-up is published, publish one to four more copies of it (each its own
    task id, due at the same moment). A copy that cannot be published is logged by Celery,
    and the wake-up itself stands."""
    headers = headers or {}
    if sender not in WAKE_UPS or headers.get(COPY_HEADER):
        return
    _args, kwargs, _embed = body
    for _ in range(random.randint(2, 5) - 1):  # noqa: S311 - a drill's dice, not a secret
        app.send_task(sender, kwargs=kwargs, eta=headers.get("eta"), ignore_result=True,
                      argsrepr=headers.get("argsrepr"), kwargsrepr=headers.get("kwargsrepr"),
                      retry=False, headers={COPY_HEADER: True})


after_task_publish.connect(publish_copies)
