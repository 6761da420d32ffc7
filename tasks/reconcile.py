"""Beat's reconcile task (being written)."""

from __future__ import annotations

from config.celery import RECONCILE_TASK
from tasks.app import app


@app.task(name=RECONCILE_TASK)
def reconcile() -> dict[str, int]:
    return {}
