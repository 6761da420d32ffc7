"""The raw limits, measured in the same run: no-op Celery tasks per second (same broker,
same worker settings as the provider worker) and, beside the intake, the batched INSERT
rate into the same PostgreSQL."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
import redis
from celery import Celery
from psycopg import sql

from bench.measure import wait_until
from bench.sizes import Sizes
from bench.stack import PROVIDER_WORKERS, BenchStack
from bench.worker_app import NOOP_QUEUE, NOOP_TASK

INSERT_BATCH = 1000
COLUMNS = ("provider", "bet_ref", "round_ref", "player_id", "game_id", "round_id", "stake",
           "currency", "placed_at", "state", "deadline", "next_check_at", "check_attempt",
           "version", "duplicate_deliveries", "created_at", "updated_at")


@dataclass(frozen=True)
class RawLimits:
    noop_per_second: float


def measure(stack: BenchStack, sizes: Sizes) -> RawLimits:
    return RawLimits(noop_rate(stack, sizes.noop_tasks))


def noop_rate(stack: BenchStack, count: int) -> float:
    """The no-op workers' rate (``drain_rate``): as many as the provider workers."""
    nodes = [f"noop{n}@{socket.gethostname()}" for n in range(1, PROVIDER_WORKERS + 1)]
    return drain_rate(stack.redis, count, nodes)


def drain_rate(broker: redis.Redis, count: int, nodes: list[str]) -> float:
    """Fill the no-op queue first, then have the no-op workers ``nodes`` (started by
    ``bench.worker_app.noop_worker_argv``: as the provider workers are, listening to an
    idle queue until now) consume it, and time them draining it by their own count of
    tasks run."""
    from betguard.tasks.app import app

    with app.producer_or_acquire() as producer:
        for _ in range(count):
            app.send_task(NOOP_TASK, queue=NOOP_QUEUE, producer=producer)
    app.control.add_consumer(NOOP_QUEUE, destination=nodes, reply=True, timeout=5.0)
    try:
        wait_until(lambda: int(broker.llen(NOOP_QUEUE)) < count, timeout=60, interval=0.005,
                   what="the no-op workers starting")
        started = time.perf_counter()
        wait_until(lambda: _noops_done(app, nodes) >= count, timeout=300, interval=0.05,
                   what="the no-op queue drained")
        return count / (time.perf_counter() - started)
    finally:
        app.control.cancel_consumer(NOOP_QUEUE, destination=nodes, reply=True, timeout=5.0)


def _noops_done(app: Celery, nodes: list[str]) -> int:
    """The no-op workers' own count of tasks run (remote-control replies)."""
    stats = app.control.inspect(timeout=1.0, destination=nodes, limit=len(nodes)).stats() or {}
    return int(sum(reply.get("total", {}).get(NOOP_TASK, 0) for reply in stats.values()))


class RawInserts:
    """Batched INSERTs of bets rows (``INSERT_BATCH`` rows a batch, a commit each) into a
    copy of the bets table with its indexes, through the driver itself: psycopg's
    pipelined executemany, the fastest batched INSERT we found (multi-row VALUES and
    unnest() arrays both came out slower on this machine). The intake scenario runs a
    batch of these beside each batch of its own, so both meet the same moment of the
    machine: measured apart, minutes away, the raw rate alone ranged from 41,700 to 73,300
    rows/s between full runs."""

    def __init__(self, stack: BenchStack) -> None:
        dsn = stack.env["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
        self._conn = psycopg.connect(dsn, autocommit=True)
        self._conn.execute("DROP TABLE IF EXISTS bench_raw_bets")
        self._conn.execute("CREATE TABLE bench_raw_bets (LIKE bets INCLUDING ALL)")
        self._statement = sql.SQL("INSERT INTO bench_raw_bets ({}) VALUES ({})").format(
            sql.SQL(", ").join(map(sql.Identifier, COLUMNS)),
            sql.SQL(", ").join([sql.Placeholder()] * len(COLUMNS)))
        self.rows = 0
        self.seconds = 0.0

    def insert_batch(self) -> None:
        now = datetime.now(UTC)
        started = time.perf_counter()
        with self._conn.transaction(), self._conn.cursor() as cursor:
            cursor.executemany(self._statement, [_row(n, now) for n in
                                                 range(self.rows, self.rows + INSERT_BATCH)])
        self.seconds += time.perf_counter() - started
        self.rows += INSERT_BATCH

    @property
    def per_second(self) -> float:
        return self.rows / self.seconds

    def close(self) -> None:
        self._conn.execute("DROP TABLE bench_raw_bets")
        self._conn.close()


def _row(n: int, now: datetime) -> tuple[object, ...]:
    ref = f"raw-{n:09d}"
    return ("raw", ref, ref, "player-1", "roulette", f"round-{n}", "10.00", "EUR", now,
            "pending", now + timedelta(hours=1), now, 1, 1, 0, now, now)
