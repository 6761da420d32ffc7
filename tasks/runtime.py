"""The per-process context: built at worker process start, never at import."""

from __future__ import annotations

import os
from typing import Any

from celery.signals import (
    worker_init,
    worker_process_init,
    worker_process_shutdown,
    worker_ready,
)

from betguard.bootstrap import build_context, settle_heap
from betguard.config.settings import get_settings
from betguard.messaging.app import app
from betguard.messaging.scheduler import CeleryScheduler
from betguard.metrics.worker import start_worker_metrics
from betguard.services.context import Context

_context: Context | None = None
_pid: int | None = None
# Database connections this process keeps: a thread pool's threads each need one at a
# time; fewer, and connections are opened and closed for every check.
_db_connections = 10


def context() -> Context:
    """This process's context; a forked child builds its own."""
    global _context, _pid
    if _context is None or _pid != os.getpid():
        settings = get_settings()
        scheduler = CeleryScheduler.from_settings(app, settings)
        _context = build_context(settings, scheduler, db_pool_size=_db_connections)
        _pid = os.getpid()
    return _context


@worker_init.connect
def _on_worker_init(sender: Any = None, **_: Any) -> None:
    global _db_connections
    if "thread" in str(getattr(sender, "pool_cls", "")).lower():
        _db_connections = max(_db_connections, int(getattr(sender, "concurrency", 0) or 0))
    settings = get_settings()
    settings.validate_for_start()  # fail at start-up, not at the first task
    if settings.metrics_port is not None:
        start_worker_metrics(settings.metrics_port, address=settings.metrics_address,
                             pool=getattr(sender, "pool_cls", None))


@worker_process_init.connect
def _on_process_init(**_: Any) -> None:
    context()
    settle_heap()


@worker_ready.connect
def _on_worker_ready(**_: Any) -> None:
    settle_heap()  # a thread pool runs its tasks in this process


@worker_process_shutdown.connect
def _on_process_shutdown(**_: Any) -> None:
    if _context is not None and _pid == os.getpid():
        _context.db.dispose()
