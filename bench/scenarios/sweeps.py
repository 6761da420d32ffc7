"""Sweeps: the cost of one sweep over a table with ``sweep_due`` due bets, small and
large, in a database of its own on the same PostgreSQL. The wake-ups it publishes go
to a queue no worker reads (the provider declares batched queries, so the figure is
the database's work rather than one publish per bet)."""

from __future__ import annotations

import dataclasses
import statistics
import time
from dataclasses import dataclass

import psycopg
from celery import Celery

from bench.sizes import Sizes
from bench.stack import BenchStack
from betguard.config.celery import celery_config
from betguard.config.settings import get_settings
from betguard.messaging.scheduler import CeleryScheduler
from betguard.models.store.db import Database
from betguard.models.store.migrate import upgrade
from betguard.services.sweeps import sweep_due_checks

DATABASE = "bench_sweeps"
SINK = "bench.sink"
RUNS = 3  # the median of three sweeps per size
FILL = """
INSERT INTO bets (provider, bet_ref, round_ref, player_id, game_id, round_id, stake, currency,
                  placed_at, state, payout, deadline, next_check_at, check_attempt, version,
                  duplicate_deliveries, created_at, updated_at, final_at)
SELECT 'batched', %(prefix)s::text || g, %(prefix)s::text || g, 'player-1', 'roulette',
       'round-' || g, 10, 'EUR', now(),
       CASE WHEN %(due)s THEN 'pending' WHEN g %% 10 < 8 THEN 'settled' ELSE 'pending' END,
       CASE WHEN NOT %(due)s AND g %% 10 < 8 THEN 0 END, now() + interval '1 day',
       CASE WHEN %(due)s THEN now() - interval '1 hour'
            WHEN g %% 10 < 8 THEN NULL ELSE now() + interval '1 hour' END,
       2, 2, 0, now(), now(), CASE WHEN NOT %(due)s AND g %% 10 < 8 THEN now() END
FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS g
"""
REARM = ("UPDATE bets SET next_check_at = now() - interval '1 hour' "
         "WHERE provider = 'batched' AND bet_ref LIKE 'due-%%'")


@dataclass(frozen=True)
class SweepCost:
    small_rows: int
    large_rows: int
    due: int
    small_seconds: float
    large_seconds: float


def sweep_cost(stack: BenchStack, sizes: Sizes) -> SweepCost:
    assert stack.local.postgres is not None  # noqa: S101 - the bench starts its own
    url = stack.local.postgres.create_database(DATABASE)
    upgrade(url)
    db = Database(url, pool_size=2)
    sink = _sink_app()
    ctx = dataclasses.replace(
        stack.ctx, db=db, scheduler=CeleryScheduler(sink, max_countdown=600),
        timing=dataclasses.replace(stack.ctx.timing, sweep_batch=sizes.sweep_due))
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            _fill(conn, "due-", 1, sizes.sweep_due, due=True)
            _fill(conn, "old-", 1, sizes.sweep_small - sizes.sweep_due, due=False)
            small = _median_sweep(ctx, conn, sizes.sweep_due)
            _fill(conn, "old-", sizes.sweep_small - sizes.sweep_due + 1,
                  sizes.sweep_large - sizes.sweep_due, due=False)
            large = _median_sweep(ctx, conn, sizes.sweep_due)
    finally:
        db.dispose()
        stack.redis.delete(SINK)
    return SweepCost(sizes.sweep_small, sizes.sweep_large, sizes.sweep_due, small, large)


def _fill(conn: psycopg.Connection, prefix: str, first: int, last: int, *, due: bool) -> None:
    for start in range(first, last + 1, 500_000):
        conn.execute(FILL, {"prefix": prefix, "due": due, "first": start,
                            "last": min(last, start + 499_999)})


def _median_sweep(ctx: object, conn: psycopg.Connection, due: int) -> float:
    costs = []
    for _ in range(RUNS):
        conn.execute(REARM)
        # Each run starts from the same history: the events a sweep appends would
        # otherwise make every later run (the large table's) a little dearer.
        conn.execute("TRUNCATE audit_events")
        conn.execute("VACUUM ANALYZE bets")
        conn.execute("CHECKPOINT")
        started = time.perf_counter()
        dispatched = sweep_due_checks(ctx)  # type: ignore[arg-type]
        costs.append(time.perf_counter() - started)
        if dispatched != due:
            raise RuntimeError(f"the sweep dispatched {dispatched} bets, not the {due} due")
    return statistics.median(costs)


def _sink_app() -> Celery:
    """A Celery client configured as betguard's, whose every task goes to a queue no
    worker reads: the sweep publishes as it would, and nothing runs."""
    app = Celery("bench-sink")
    config = celery_config(get_settings())
    config["task_routes"] = {"*": {"queue": SINK}}
    app.conf.update(config)
    return app
