"""``/metrics`` off the event loop: the database is read in a worker thread, and a
scrape that waits longer than ``timeout`` is answered 503 (Prometheus then records the
target as down) while every other request keeps being served.

At most one collection runs at a time: while one still waits for the database, the
next scrape is answered 503 at once instead of piling up threads on a stuck query.
"""

from __future__ import annotations

import logging
import threading

import anyio
from fastapi import Request
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import CollectorRegistry

from betguard.config.settings import Settings
from betguard.metrics.database import database_registry
from betguard.metrics.topology import TopologyCollector
from betguard.models.store.db import Database

log = logging.getLogger(__name__)

SCRAPE_TIMEOUT = 5.0  # seconds; Prometheus' own scrape timeout defaults to 10


class MetricsEndpoint:
    """An async endpoint serving the database-derived metrics."""

    def __init__(self, registry: CollectorRegistry, *, timeout: float = SCRAPE_TIMEOUT) -> None:
        self._registry = registry
        self._timeout = timeout
        self._collecting = threading.Lock()  # released by the thread when it is done

    @classmethod
    def of(cls, db: Database, *, settings: Settings | None = None,
           timeout: float = SCRAPE_TIMEOUT) -> MetricsEndpoint:
        """The database figures, and with ``settings`` the servers reached as well."""
        registry = database_registry(db)
        if settings is not None:
            registry.register(TopologyCollector(settings, db))
        return cls(registry, timeout=timeout)

    async def serve(self, request: Request) -> Response:
        if not self._collecting.acquire(blocking=False):
            return _unavailable("the previous scrape is still reading the database")
        try:
            with anyio.fail_after(self._timeout):
                body = await anyio.to_thread.run_sync(self._collect, abandon_on_cancel=True)
        except TimeoutError:
            log.warning("/metrics: the database did not answer within %.1f s", self._timeout)
            return _unavailable(f"the database did not answer within {self._timeout:g} s")
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    def _collect(self) -> bytes:
        try:
            return generate_latest(self._registry)
        finally:
            self._collecting.release()


def _unavailable(why: str) -> Response:
    return PlainTextResponse(f"metrics unavailable: {why}\n", status_code=503,
                             headers={"Retry-After": "5"})
