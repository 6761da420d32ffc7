"""Metrics read from the database at scrape time.

The database is the truth (docs/design.md), and any process can read it: so whoever
serves ``/metrics`` reports the same numbers, restarts lose nothing, and
"refunds total" cannot drift from the refunds actually made. Each scrape runs a
handful of grouped counts, each narrowed by an indexed state or open-review column.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TypeVarTuple

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from betguard.metrics import specs
from betguard.models.domain.events import ReviewReason
from betguard.models.domain.outbox import NotificationState
from betguard.models.domain.states import BetState
from betguard.models.store.db import Database
from betguard.models.store.tables import (
    Bet,
    FeedCursor,
    GamePause,
    Notification,
    ReconciliationDifference,
    Review,
    SweepStat,
)
from betguard.services.context import utcnow
from betguard.services.reconcile_compare import Kind

Family = GaugeMetricFamily | CounterMetricFamily
Columns = TypeVarTuple("Columns")


@dataclass(frozen=True)
class Figures:
    """One scrape's worth of rows, as the database grouped them."""

    bets: Sequence[tuple[str, str, int]] = ()  # state, provider, count
    oldest_pending: Sequence[tuple[str, datetime]] = ()  # provider, placed_at
    open_reviews: Sequence[tuple[str, int]] = ()  # reason, count
    refunds: Sequence[tuple[str, str, int, Decimal]] = ()  # provider, currency, count, amount
    notifications: Sequence[tuple[str, int]] = ()  # state, count
    sweeps: Sequence[tuple[str, int, int, datetime | None, float | None]] = ()
    differences: Sequence[tuple[str, str, int]] = ()  # provider, kind, open count
    # provider, feed, last success, rows seen, when the copy last caught up
    feeds: Sequence[tuple[str, str, datetime | None, int, datetime | None]] = ()
    paused: Sequence[tuple[str, int]] = ()  # provider, paused entries
    providers: Sequence[str] = ()  # every provider with a bet or a pause entry


def read_figures(session: Session) -> Figures:
    refunded = Bet.state == BetState.REFUNDED.value
    return Figures(
        bets=_rows(session, select(Bet.state, Bet.provider, func.count())
                   .group_by(Bet.state, Bet.provider)),
        oldest_pending=_rows(session, select(Bet.provider, func.min(Bet.placed_at))
                             .where(Bet.state == BetState.PENDING.value)
                             .group_by(Bet.provider)),
        open_reviews=_rows(session, select(Review.reason, func.count())
                           .where(Review.resolved_at.is_(None)).group_by(Review.reason)),
        refunds=_rows(session, select(Bet.provider, Bet.currency, func.count(),
                                      func.sum(Bet.stake))
                      .where(refunded).group_by(Bet.provider, Bet.currency)),
        notifications=_rows(session, select(Notification.state, func.count())
                            .group_by(Notification.state)),
        sweeps=_rows(session, select(SweepStat.kind, SweepStat.runs, SweepStat.items,
                                     SweepStat.last_run_at, SweepStat.last_duration_seconds)),
        differences=_rows(session, select(ReconciliationDifference.provider,
                                          ReconciliationDifference.kind, func.count())
                          .where(ReconciliationDifference.resolved_at.is_(None))
                          .group_by(ReconciliationDifference.provider,
                                    ReconciliationDifference.kind)),
        feeds=_rows(session, select(FeedCursor.provider, FeedCursor.feed,
                                    FeedCursor.last_success_at, FeedCursor.rows_seen,
                                    FeedCursor.synced_at)),
        paused=_rows(session, select(GamePause.provider, func.count())
                     .where(GamePause.paused.is_(True)).group_by(GamePause.provider)),
        providers=list(session.scalars(select(Bet.provider).distinct()
                                       .union(select(GamePause.provider).distinct()))),
    )


def _rows(session: Session, query: Select[*Columns]) -> list[tuple[*Columns]]:
    return list(session.execute(query))


def families(figures: Figures, now: datetime) -> list[Metric]:
    """The metric families for ``figures``; with no rows, just their names and types."""
    return [*_bet_families(figures, now), *_queue_families(figures),
            *_sweep_families(figures), *_feed_families(figures, now)]


def _family(spec: specs.Spec) -> Family:
    kind = CounterMetricFamily if spec.kind == "counter" else GaugeMetricFamily
    return kind(spec.name, spec.help, labels=list(spec.labels))


def _bet_families(figures: Figures, now: datetime) -> list[Metric]:
    bets = _family(specs.BETS)
    counts = {(state, provider): count for state, provider, count in figures.bets}
    # Every state of every known provider, zeros included: a series that vanishes
    # when its last bet leaves a state would leave alerts and graphs with a gap.
    for provider in sorted({provider for _state, provider in counts}):
        for state in BetState:
            bets.add_metric([state.value, provider], counts.get((state.value, provider), 0))
    oldest = _family(specs.OLDEST_PENDING_AGE)
    for provider, placed_at in figures.oldest_pending:
        oldest.add_metric([provider], max(0.0, (now - placed_at).total_seconds()))
    refunds, amount = _family(specs.REFUNDS), _family(specs.REFUNDED_AMOUNT)
    for provider, currency, count, total in figures.refunds:
        refunds.add_metric([provider, currency], count)
        amount.add_metric([provider, currency], float(total or 0))
    return [bets, oldest, refunds, amount]


def _queue_families(figures: Figures) -> list[Metric]:
    reviews = _family(specs.OPEN_REVIEWS)
    open_reviews = dict(figures.open_reviews)
    for reason in sorted({*(r.value for r in ReviewReason), *open_reviews}):
        reviews.add_metric([reason], open_reviews.get(reason, 0))
    notifications = _family(specs.NOTIFICATIONS)
    per_state = dict(figures.notifications)
    for state in NotificationState:
        notifications.add_metric([state.value], per_state.get(state.value, 0))
    dead = _family(specs.DEAD_LETTERS)
    dead.add_metric([], per_state.get(NotificationState.DEAD.value, 0))
    return [reviews, notifications, dead]


def _sweep_families(figures: Figures) -> list[Metric]:
    runs, items = _family(specs.SWEEP_RUNS), _family(specs.SWEEP_ITEMS)
    last_run, duration = _family(specs.SWEEP_LAST_RUN), _family(specs.SWEEP_DURATION)
    for kind, run_count, item_count, last_run_at, seconds in figures.sweeps:
        runs.add_metric([kind], run_count)
        items.add_metric([kind], item_count)
        if last_run_at is not None:
            last_run.add_metric([kind], last_run_at.timestamp())
        if seconds is not None:
            duration.add_metric([kind], seconds)
    return [runs, items, last_run, duration]


def _feed_families(figures: Figures, now: datetime) -> list[Metric]:
    """Feeds, reconciliation and game pauses. Zeros are shown for every kind of
    difference of every provider with a feed, and for every provider's pauses, so an
    alert sees the series before its first difference or pause."""
    differences = _family(specs.OPEN_DIFFERENCES)
    open_counts = {(provider, kind): count for provider, kind, count in figures.differences}
    with_feeds = {provider for provider, *_ in figures.feeds}
    kinds = {kind.value for kind in Kind}
    for provider in sorted(with_feeds | {provider for provider, _kind in open_counts}):
        for kind in sorted(kinds | {k for p, k in open_counts if p == provider}):
            differences.add_metric([provider, kind], open_counts.get((provider, kind), 0))
    age, rows = _family(specs.FEED_LAST_SUCCESS_AGE), _family(specs.FEED_ROWS)
    synced = _family(specs.FEED_SYNCED_AGE)
    for provider, feed, last_success_at, seen, synced_at in sorted(figures.feeds):
        age.add_metric([provider, feed], _age(last_success_at, now))
        rows.add_metric([provider, feed], seen)
        synced.add_metric([provider, feed], _age(synced_at, now))
    paused = _family(specs.GAMES_PAUSED)
    per_provider = dict(figures.paused)
    for provider in sorted({*figures.providers, *per_provider}):
        paused.add_metric([provider], per_provider.get(provider, 0))
    return [differences, age, rows, synced, paused]


def _age(moment: datetime | None, now: datetime) -> float:
    """Seconds since ``moment`` (+Inf: never)."""
    return math.inf if moment is None else max(0.0, (now - moment).total_seconds())


class DatabaseCollector(Collector):
    """Reads the figures from the database on every scrape; holds no state of its own."""

    def __init__(self, db: Database, *, clock: Callable[[], datetime] = utcnow) -> None:
        self._db = db
        self._clock = clock

    def describe(self) -> Iterable[Metric]:
        # Registration asks for names only: answer without touching the database.
        return families(Figures(), self._clock())

    def collect(self) -> Iterable[Metric]:
        now = self._clock()
        with self._db.unit_of_work() as session:
            figures = read_figures(session)
        return families(figures, now)


def database_registry(db: Database) -> CollectorRegistry:
    """A registry of its own, so the API's /metrics carries only these figures."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(db))
    return registry
