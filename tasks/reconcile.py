"""Beat's reconcile task: every provider with a history feed is compared with the bets
once per ``reconcile_interval``. Beat ticks often; each run does only what is due
(read from the database), and two ticks or workers never run one provider at once
(``betguard.services.reconcile.claim_scheduled``)."""

from __future__ import annotations

import logging

from betguard.config.celery import RECONCILE_TASK
from betguard.messaging.app import app
from betguard.services.reconcile import run_due
from betguard.tasks.runtime import context

log = logging.getLogger(__name__)


@app.task(name=RECONCILE_TASK)
def reconcile() -> dict[str, int]:
    counts = run_due(context())
    if counts["runs"]:
        log.info("reconciled %s", counts)
    return counts
