"""The load generator: client processes, each with a few threads, each thread a closed
loop (one request, its answer, the next) for a fixed time, started together. The same
loop drives betguard's HTTP intake and the raw INSERT loops it is compared to, so both
meet the same clients, the same concurrency and the same machine.

A client thread keeps its connection open (an HTTP/1.1 connection, a psycopg
connection), as a game server's pool does. Every answer is checked: an HTTP intake
request counts only when each of its bets was created; anything else is a failure, and
a run with failures is reported as failed, not as a rate.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import statistics
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.queues import Queue
from typing import Any
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

from bench import measure
from betguard_devkit.runrefs import round_fields

RAW_TABLE = "bench_raw_bets"
RAW_COLUMNS = ("provider", "bet_ref", "round_ref", "player_id", "game_id", "round_id", "stake",
               "currency", "placed_at", "state", "deadline", "next_check_at", "check_attempt",
               "version", "duplicate_deliveries", "created_at", "updated_at")
MAX_PROCESSES = 4  # client processes; the rest of the concurrency is threads in them


@dataclass(frozen=True)
class Target:
    """What the clients drive: ``kind`` is ``http`` (``url``, ``key``, ``provider``) or
    ``raw`` (``dsn``); ``per_request`` bets in each request or transaction."""

    kind: str
    per_request: int
    url: str = ""
    key: str = ""
    provider: str = ""
    dsn: str = ""


@dataclass(frozen=True)
class Load:
    """What a load run measured, over all its clients."""

    concurrency: int
    seconds: float
    requests: int
    bets: int
    failures: int
    p50_ms: float
    p99_ms: float
    first_failure: str = ""
    latencies: tuple[float, ...] = ()  # every request's, in milliseconds, sorted
    cores: tuple[tuple[str, float], ...] = ()  # the busiest processes over the window

    @property
    def cores_by_process(self) -> dict[str, float]:
        return dict(self.cores)

    @classmethod
    def of(cls, cores: list[tuple[str, float]], concurrency: int, seconds: float,
           latencies: list[float], bets: int, failures: int, first_failure: str = "",
           ) -> Load:
        ordered = sorted(latencies)
        cuts = statistics.quantiles(ordered, n=100) if len(ordered) > 1 else [0.0] * 99
        return cls(concurrency, seconds, len(ordered), bets, failures,
                   statistics.median(ordered) if ordered else 0.0, cuts[98], first_failure,
                   tuple(ordered), tuple(cores))

    @classmethod
    def pooled(cls, loads: list[Load]) -> Load:
        """Several runs at one concurrency as one: their bets over their summed time, each
        process's cores averaged over the runs."""
        shares: dict[str, float] = {}
        for load in loads:
            for name, share in load.cores:
                shares[name] = shares.get(name, 0.0) + share / len(loads)
        cores = sorted(((name, round(share, 2)) for name, share in shares.items()),
                       key=lambda item: -item[1])
        return cls.of(cores, loads[0].concurrency, sum(load.seconds for load in loads),
                      [ms for load in loads for ms in load.latencies],
                      sum(load.bets for load in loads), sum(load.failures for load in loads),
                      next((load.first_failure for load in loads if load.first_failure), ""))

    @property
    def bets_per_second(self) -> float:
        return self.bets / self.seconds

    def brief(self) -> dict[str, Any]:
        return {"concurrency": self.concurrency, "bets_per_second": round(self.bets_per_second, 1),
                "p50_ms": round(self.p50_ms, 2), "p99_ms": round(self.p99_ms, 2),
                "failures": self.failures,
                "cores": [[name, share] for name, share in self.cores]}


def drive(target: Target, *, concurrency: int, seconds: float, tag: str) -> Load:
    """``concurrency`` closed loops against ``target`` for ``seconds`` (after a second of
    warm-up each client spends connecting), their references starting with ``tag``."""
    processes = min(concurrency, MAX_PROCESSES)
    threads = [concurrency // processes + (1 if n < concurrency % processes else 0)
               for n in range(processes)]
    context = multiprocessing.get_context("spawn")
    results: Queue[dict[str, Any]] = context.Queue()
    start_at = time.time() + 1.5 + 0.3 * processes  # every client spawned and connected
    clients = [context.Process(target=_client, args=(target, count, start_at, seconds,
                                                     f"{tag}-{n}", results), daemon=True)
               for n, count in enumerate(threads)]
    for client in clients:
        client.start()
    time.sleep(max(0.0, start_at - time.time()))
    cpu0 = measure.cpu_by_process()  # over the measured window only: not the clients' start
    time.sleep(seconds)
    cores = measure.cpu_shares(cpu0, measure.cpu_by_process(), seconds, top=8)
    gathered = [results.get(timeout=seconds + 120) for _ in clients]
    for client in clients:
        client.join(30)
    return Load.of(cores, concurrency, seconds,
                   [ms for each in gathered for ms in each["latencies"]],
                   sum(int(each["bets"]) for each in gathered),
                   sum(int(each["failures"]) for each in gathered),
                   next((each["first_failure"] for each in gathered if each["first_failure"]),
                        ""))


def _client(target: Target, threads: int, start_at: float, seconds: float, tag: str,
            results: Queue[dict[str, Any]]) -> None:
    """One client process: its threads' loops, then one report on ``results``."""
    latencies: list[float] = []
    failures: list[str] = []
    done = Counter[str]()
    lock = threading.Lock()

    def loop(number: int) -> None:
        send = _sender(target, f"{tag}-{number}")
        mine: list[float] = []
        bad: list[str] = []
        bets = 0
        warm = send(-1)  # connect before the start, and check the target answers at all
        if warm:
            bad.append(f"before the start: {warm}")
        time.sleep(max(0.0, start_at - time.time()))
        end = start_at + seconds
        sequence = 0
        while time.time() < end:
            began = time.perf_counter()
            failure = send(sequence)
            mine.append((time.perf_counter() - began) * 1000)
            sequence += 1
            if failure:
                bad.append(failure)
            else:
                bets += target.per_request
        with lock:
            latencies.extend(mine)
            failures.extend(bad)
            done["bets"] += bets

    workers = [threading.Thread(target=loop, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    results.put({"latencies": latencies, "failures": len(failures),
                 "first_failure": failures[0] if failures else "", "bets": done["bets"]})


def _sender(target: Target, tag: str) -> Any:
    """A function sending request number ``n`` (``-1``: the warm-up's), returning what
    went wrong or ``""``."""
    if target.kind == "http":
        return _http_sender(target, tag)
    return _raw_sender(target, tag)


def _http_sender(target: Target, tag: str) -> Any:
    """Requests over one kept-open connection with the standard library's client: the
    leanest Python client we have (``requests`` cost the generator three times the CPU
    a request, which on a shared machine is taken from the server it measures)."""
    address = urlsplit(target.url)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=30)
    headers = {"Authorization": f"Bearer {target.key}", "Content-Type": "application/json"}

    def bet(ref: str) -> dict[str, str]:
        return {"provider": target.provider, "bet_ref": ref, "player_id": "player-1",
                **round_fields(ref, "roulette"), "stake": "10.00", "currency": "EUR"}

    def send(n: int) -> str:
        refs = [f"{tag}-{n}-{i}" for i in range(target.per_request)]
        body: dict[str, Any] = bet(refs[0]) if target.per_request == 1 else {
            "bets": [bet(ref) for ref in refs]}
        try:
            connection.request("POST", "/bets", body=json.dumps(body), headers=headers)
            answer = connection.getresponse()
            status, text = answer.status, answer.read()
        except (OSError, http.client.HTTPException) as exc:
            connection.close()  # the next request connects again
            return f"{type(exc).__name__}: {exc}"
        if target.per_request == 1:
            return "" if status == 201 else f"{status} {text[:200]!r}"
        if status != 200:
            return f"{status} {text[:200]!r}"
        statuses = {item["status"] for item in json.loads(text)["results"]}
        return "" if statuses == {"created"} else f"batch items {statuses}"

    return send


def _raw_sender(target: Target, tag: str) -> Any:
    connection = psycopg.connect(target.dsn)
    statement = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
        sql.Identifier(RAW_TABLE), sql.SQL(", ").join(map(sql.Identifier, RAW_COLUMNS)),
        sql.SQL(", ").join([sql.Placeholder()] * len(RAW_COLUMNS)))

    def send(n: int) -> str:
        now = datetime.now(UTC)
        rows = [_raw_row(f"{tag}-{n}-{i}", now) for i in range(target.per_request)]
        try:
            with connection.transaction(), connection.cursor() as cursor:
                if len(rows) == 1:
                    cursor.execute(statement, rows[0])
                else:
                    cursor.executemany(statement, rows)
        except psycopg.Error as exc:
            return f"{type(exc).__name__}: {exc}"
        return ""

    return send


def _raw_row(ref: str, now: datetime) -> tuple[object, ...]:
    return ("raw", ref, ref, "player-1", "roulette", ref, "10.00", "EUR", now, "pending",
            now + timedelta(hours=1), now, 1, 1, 0, now, now)


def make_raw_table(dsn: str) -> None:
    """The raw loops' table: a copy of the bets table with its indexes, empty."""
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(RAW_TABLE)))
        connection.execute(sql.SQL("CREATE TABLE {} (LIKE bets INCLUDING ALL)").format(
            sql.Identifier(RAW_TABLE)))
