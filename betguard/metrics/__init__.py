"""Prometheus metrics, from the two places where the facts live.

- The database (bets per state, reviews, refunds, the outbox, sweep runs) is read
  at scrape time by ``make_metrics_app``, which the HTTP API mounts at /metrics.
- What a worker does (checks, provider calls and their latency, deliveries,
  refund attempts, calls its provider guards refused) is counted in the provider
  worker's memory and served on its own port (``betguard.metrics.worker``,
  ``betguard.metrics.guards``); the database keeps no latencies. The guards'
  circuit breakers are read from Redis, where every worker shares them.

``betguard.metrics.specs`` names every metric once.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import make_asgi_app

from betguard.metrics.database import database_registry
from betguard.models.store.db import Database


def make_metrics_app(db: Database) -> Any:
    """An ASGI app serving the database-derived metrics in Prometheus' text format."""
    return make_asgi_app(registry=database_registry(db))
