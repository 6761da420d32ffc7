"""Beat's feed pull: every history feed that is due, one call each at most
(``betguard.services.feeds``). Safe to run twice, late or never: a feed's call is claimed in
the database, and a missed run only delays the next page."""

from __future__ import annotations

import logging

from betguard.config.celery import FEED_TASK
from betguard.messaging.app import app
from betguard.services.feeds import pull_due_feeds
from betguard.tasks.runtime import context

log = logging.getLogger(__name__)


@app.task(name=FEED_TASK)
def pull_feeds() -> dict[str, int]:
    reports = pull_due_feeds(context())
    called = [report for report in reports if report.called]
    counts = {"feeds": len(called), "rows": sum(r.rows for r in called),
              "new": sum(r.new for r in called), "updated": sum(r.updated for r in called),
              "woken": sum(r.woken for r in called),
              "errors": sum(1 for r in called if r.error is not None)}
    if counts["errors"]:
        log.warning("feed pull: %d of %d feeds called gave no page", counts["errors"],
                    counts["feeds"])
    return counts
