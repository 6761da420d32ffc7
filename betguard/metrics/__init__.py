"""Prometheus metrics (filled in by the metrics work): ``make_metrics_app`` is what the API mounts at /metrics."""

from __future__ import annotations

from typing import Any

from prometheus_client import make_asgi_app

from models.db import Database


def make_metrics_app(db: Database) -> Any:
    """An ASGI app serving the metrics in Prometheus' text format."""
    del db
    return make_asgi_app()
