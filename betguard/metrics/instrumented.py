"""Timing every provider call from the outside, so adapters and services stay free
of metrics: ``build_providers`` wraps each adapter in an ``InstrumentedProvider``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from betguard.metrics.worker import PROVIDER_CALL_SECONDS
from betguard.providers.base import BetStatus, CancelOutcome, HistoryPage, Provider


class InstrumentedProvider:
    """A provider whose calls are observed in ``betguard_provider_call_seconds``.

    ``result`` is ``ok`` when the provider answered (a 404 "never saw it" is an
    answer) and ``error`` when the call raised, whatever the reason.
    """

    def __init__(self, inner: Provider) -> None:
        self.inner = inner
        self.name = inner.name
        self.supports_batch = inner.supports_batch
        self.capabilities = inner.capabilities
        self.feeds = inner.feeds

    def get_status(self, bet_ref: str, player_id: str = "") -> BetStatus:
        with self._timed("status"):
            return self.inner.get_status(bet_ref, player_id)

    def get_statuses(self, bet_refs: list[str]) -> dict[str, BetStatus]:
        with self._timed("statuses"):
            return self.inner.get_statuses(bet_refs)

    def cancel(self, bet_ref: str, player_id: str = "") -> CancelOutcome:
        with self._timed("cancel"):
            return self.inner.cancel(bet_ref, player_id)

    def fetch_history(self, feed: str, cursor: str | None) -> HistoryPage:
        with self._timed("history"):
            return self.inner.fetch_history(feed, cursor)

    def fetch_history_window(self, start: datetime, end: datetime) -> HistoryPage:
        with self._timed("history_window"):
            return self.inner.fetch_history_window(start, end)

    @contextmanager
    def _timed(self, call: str) -> Iterator[None]:
        started = time.perf_counter()
        result = "error"
        try:
            yield
            result = "ok"
        finally:
            PROVIDER_CALL_SECONDS.labels(self.name, call, result).observe(
                time.perf_counter() - started)
