"""The health check's task: a worker that takes it from its own queue (``worker_direct``)
answers with its name. A worker can answer remote control (``celery inspect ping``)
and yet have stopped taking tasks after a broker reconnect (Celery issues #8030,
#8384, #10096); this task is taken by the same consumer as every other task, so its
answer proves that the worker consumes (``betguard worker-health``)."""

from __future__ import annotations

from typing import Any

from betguard.config.celery import HEALTH_TASK
from betguard.messaging.app import app


@app.task(name=HEALTH_TASK, bind=True, ignore_result=False)
def health(self: Any) -> dict[str, str]:
    return {"worker": str(self.request.hostname)}
