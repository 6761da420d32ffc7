"""The beat sweep: dispatch due and lost checks and refunds. Bounded and idempotent."""

from __future__ import annotations

import logging

from betguard.config.celery import SWEEP_TASK
from betguard.messaging.app import app
from betguard.services.sweeps import run_sweeps
from betguard.tasks.runtime import context

log = logging.getLogger(__name__)


@app.task(name=SWEEP_TASK)
def sweep() -> dict[str, int]:
    ctx = context()
    report = run_sweeps(ctx)
    counts = {"checks": report.checks_dispatched, "refunds": report.refunds_dispatched,
              "notifications": report.notifications_dispatched}
    if any(counts.values()):
        log.info("sweep dispatched %s", counts)
    if report.backlog >= ctx.timing.sweep_backlog_limit:
        log.warning("sweep held back: %d wake-ups already wait for the provider workers",
                    report.backlog)
    return counts
