"""The Celery app the bench's reference workers run: betguard's own app, configuration
and start-up (so a worker is set up exactly as the provider worker is), plus a task
that does nothing, to measure what a message alone costs."""

from __future__ import annotations

import sys

from betguard.tasks.app import app

NOOP_TASK = "bench.noop"
NOOP_QUEUE = "bench.noop"
IDLE_QUEUE = "bench.idle"  # what the no-op workers listen to until they are measured


@app.task(name=NOOP_TASK)  # type: ignore[untyped-decorator]
def noop() -> None:
    """Nothing: what is left is the broker round trip, the pool and the acknowledgement."""


def noop_worker_argv(name: str, threads: int) -> list[str]:
    """A no-op worker, started as the provider workers are, listening to ``IDLE_QUEUE``."""
    return [sys.executable, "-m", "celery", "-A", "bench.worker_app", "worker",
            "-Q", IDLE_QUEUE, "-P", "threads", "-c", str(threads),
            "-n", f"{name}@%h", "-E", "--without-gossip", "--without-mingle", "-l", "INFO"]
