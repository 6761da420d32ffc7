"""Beat's pull feeds task (being written)."""

from __future__ import annotations

from config.celery import FEED_TASK
from tasks.app import app


@app.task(name=FEED_TASK)
def pull_feeds() -> dict[str, int]:
    return {}
