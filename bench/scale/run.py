"""One scale run on the high-availability stack: Redis through Sentinel (a master, a
replica, three sentinels), PostgreSQL as a primary with a synchronous standby, both
durable (fsync on, as in production), and the workers, beat and API each on a host of
their own (network namespaces, ``betguard_devkit.netns``), all in one run:

- checks per second with 1 and 2 worker hosts and 1, 2, 4 worker processes a host, each
  as a ratio to one process on one host;
- HTTP intake (``POST /bets``, single bets and batches of 100) driven by the load
  generator (``bench.scale.load``) at fixed concurrency, beside the raw INSERT loops
  (one row a transaction, 100 rows a transaction) at the same concurrency;
- single-bet intake at rising concurrency until bets per second stop growing, with
  which process used the machine's cores at each step;
- what the synchronous standby costs: the same intake and raw loop with the primary
  not waiting for it.

Figures go to ``bench/results/scale-SIZE.json`` and ``.md``.
"""

from __future__ import annotations

import os
import secrets
import socket
import sys
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import redis

from bench import measure
from bench.scale import report
from bench.scale.load import Load, Target, drive, make_raw_table
from bench.scenarios.checks import bet, retire_in
from bench.scenarios.raw import drain_rate
from bench.stack import (
    INTAKE_POLICY,
    PROVIDER_WORKERS,
    STEADY_POLICY,
    read_since,
    register_at,
)
from bench.worker_app import noop_worker_argv
from betguard.services.context import Context
from betguard.services.intake import place_bets
from betguard_devkit import netns, processes
from betguard_devkit.launcher import LaunchPlan, LocalStack
from betguard_devkit.local_services.postgres import DEFAULT_DB
from betguard_devkit.netns import Hosts

RESULTS = Path(__file__).resolve().parents[1] / "results"
LATENCY_MS = 50.0
WORKER_THREADS = 32  # as the main bench's provider workers
API_PROCESSES = os.cpu_count() or 1  # the API of one server process a core
HOSTS = ("w1", "w2", "default", "beat", "api")
CHECK_PREFIX = "scl-"



@dataclass(frozen=True)
class Sizes:
    name: str
    check_bets: int
    warmup: float  # seconds between the workers answering and the measuring
    window: float  # seconds each worker set is measured
    intake_seconds: float  # each load run
    concurrency: int  # the fixed concurrency of the side-by-side intake figures
    rising: tuple[int, ...]  # the concurrency steps of single-bet intake
    worker_sets: tuple[tuple[int, int], ...]  # (hosts, processes a host)
    noop_tasks: int  # no-op messages drained by the reference workers
    turns: int = 2  # each side-by-side intake figure is measured this many times in turn


SMOKE = Sizes("smoke", 200, 1.0, 2.0, 1.0, 4, (1, 4), ((1, 1), (2, 1)), 500, turns=1)
QUICK = Sizes("quick", 1000, 3.0, 8.0, 5.0, 16, (1, 4, 16), ((1, 1), (1, 2), (2, 1)), 2000)
FULL = Sizes("full", 3000, 5.0, 20.0, 15.0, 16, (1, 4, 16, 64),
             ((1, 1), (1, 2), (1, 4), (2, 1), (2, 2)), 20_000)


def main(sizes: Sizes, *, workdir: Path | None = None, results: Path | None = None) -> int:
    results = results or RESULTS
    workdir = (workdir or Path("var") / f"bench-scale-{sizes.name}").absolute()
    meta: dict[str, Any] = {"size": sizes.name, "started": datetime.now(UTC).isoformat(),
                            "cpus": os.cpu_count(), "load_before": round(os.getloadavg()[0], 2),
                            "provider_latency_ms": LATENCY_MS}
    began = time.monotonic()
    with netns.hosts_or_loopback("bgs", HOSTS, say) as hosts:
        meta["hosts"] = "network namespaces" if hosts is not None else "loopback processes"
        stack = LocalStack(_plan(workdir, hosts), dict(os.environ))
        try:
            say(f"bench scale {sizes.name}: starting the high-availability stack in {workdir}")
            stack.start()
            found = measure_all(stack, stack.context(), sizes)
        finally:
            stack.stop()
    meta["seconds"] = round(time.monotonic() - began, 1)
    meta["load_after"] = round(os.getloadavg()[0], 2)
    data = {"run": meta, **found}
    report.write(results, sizes.name, data)
    print(report.markdown(data))
    return 0


def measure_all(stack: LocalStack, ctx: Context, sizes: Sizes) -> dict[str, Any]:
    assert stack.pg_pair is not None  # noqa: S101 - the scale stack always has its standby
    primary = stack.pg_pair.primary  # the raw loops speak to it straight, through libpq
    dsn = primary.dsn(DEFAULT_DB)
    make_raw_table(dsn)
    _wait_for_api(stack.api_url)
    api = Target("http", 1, url=stack.api_url, key=stack.api_keys["game_server"],
                 provider="intake")
    raw = Target("raw", 1, dsn=dsn)
    found: dict[str, Any] = {}
    footprint = Footprint(dsn, stack)
    say("- intake side by side")
    # The API as the capacity plan deploys it: one server process a core, beside the one.
    per_core, per_core_url = stack.start_api(API_PROCESSES, stack.logs / "api-per-core.log")
    try:
        _wait_for_api(per_core_url)
        found["intake"] = side_by_side(api, replace(api, url=per_core_url), raw, sizes,
                                       footprint)
    finally:
        per_core.stop()
    found["intake"]["api_processes"] = API_PROCESSES
    say("- single-bet intake at rising concurrency")
    found["rising"] = rising(api, raw, sizes)
    say("- the synchronous standby's cost")
    found["synchronous_standby"] = standby_cost(stack, api, raw, sizes)
    found["stored"] = footprint.at_rest()
    retire_in(ctx, "intake")  # their checks are far off; their wake-ups would find nothing
    footprint.drop_wakeups()
    footprint.settle()
    say("- checks by worker hosts and processes")
    found["workers"] = worker_sets(stack, ctx, sizes, footprint)
    say("- no-op Celery tasks, the same workers' reference")
    found["noop"] = noop_reference(stack, sizes, footprint)
    return found


def side_by_side(api: Target, per_core: Target, raw: Target, sizes: Sizes,
                 footprint: Footprint) -> dict[str, Any]:
    """Single bets and batches of 100 through the API, each beside its raw INSERT loops
    (as many as the API's clients, and one alone), in turn, at the run's fixed
    concurrency, single bets also through the API of one process a core (``per_core``);
    for the one-process API's, the WAL written and the Redis memory taken, per bet."""
    runs: dict[str, list[Load]] = {"raw_one_loop": [], "raw_single": [], "api_single": [],
                                   "api_single_per_core": [], "raw_batch": [],
                                   "api_batch": []}
    grew: dict[str, list[tuple[int, int]]] = {"api_single": [], "api_batch": []}
    batch_api, batch_raw = replace(api, per_request=100), replace(raw, per_request=100)
    for turn in range(sizes.turns):
        for name, target in (("raw_one_loop", raw), ("raw_single", raw), ("api_single", api),
                             ("api_single_per_core", per_core), ("raw_batch", batch_raw),
                             ("api_batch", batch_api)):
            before = footprint.now() if name in grew else None
            concurrency = 1 if name == "raw_one_loop" else sizes.concurrency
            runs[name].append(_drive(target, concurrency, sizes.intake_seconds,
                                     f"{name}-{turn}"))
            if before is not None:
                grew[name].append(footprint.since(before))
    found: dict[str, Any] = {name: Load.pooled(loads).brief() for name, loads in runs.items()}
    for name, growth in grew.items():
        bets = sum(load.bets for load in runs[name])
        found[name]["wal_bytes_per_bet"] = round(sum(wal for wal, _ in growth) / bets)
        found[name]["redis_bytes_per_bet"] = round(sum(mem for _, mem in growth) / bets)
    return found


class Footprint:
    """What intake leaves behind: PostgreSQL's WAL position and Redis' memory, read
    around a load run; the tables' size a bet at the end."""

    def __init__(self, dsn: str, stack: LocalStack) -> None:
        self._dsn, self._stack = dsn, stack

    def now(self) -> tuple[int, int]:
        with psycopg.connect(self._dsn) as connection:
            lsn = connection.execute("SELECT pg_current_wal_lsn() - '0/0'").fetchone()
        return int(lsn[0] if lsn else 0), int(self.redis().info("memory")["used_memory"])

    def since(self, before: tuple[int, int]) -> tuple[int, int]:
        after = self.now()
        return after[0] - before[0], after[1] - before[1]

    def at_rest(self) -> dict[str, Any]:
        """The bets and audit tables' size (with indexes and TOAST) over the bets in them."""
        with psycopg.connect(self._dsn) as connection:
            row = connection.execute(
                "SELECT pg_total_relation_size('bets'), pg_total_relation_size('audit_events'),"
                " (SELECT count(*) FROM bets), (SELECT count(*) FROM audit_events)").fetchone()
        assert row is not None  # noqa: S101 - an aggregate always answers
        bets_bytes, events_bytes, bets, events = (int(value) for value in row)
        return {"bets": bets, "events": events,
                "bets_table_bytes_per_bet": round(bets_bytes / max(bets, 1)),
                "events_table_bytes_per_bet": round(events_bytes / max(bets, 1))}

    def settle(self) -> None:
        """Bench housekeeping: the tables the intake filled vacuumed and analysed, and a
        checkpoint, before the checks are measured; otherwise autovacuum and the first
        writes after a checkpoint (whole pages in the WAL) land in the first worker set's
        window and not the others'."""
        with psycopg.connect(self._dsn, autocommit=True) as connection:
            for table in ("bets", "audit_events"):
                connection.execute(f"VACUUM (ANALYZE) {table}")  # noqa: S608 - our names
            connection.execute("CHECKPOINT")

    def drop_wakeups(self) -> None:
        """Bench housekeeping: the retired intake bets' wake-ups waiting in the provider
        queue (each would find nothing to claim) are dropped before the workers start."""
        from betguard.config.celery import PROVIDER_QUEUE
        from betguard.messaging.app import app

        with app.connection_for_write() as connection:
            connection.default_channel.queue_purge(PROVIDER_QUEUE)

    def redis(self) -> redis.Redis:
        sentinels = self._stack.sentinels
        assert sentinels is not None  # noqa: S101 - the scale stack runs Redis under Sentinel
        address = sentinels.master_address()
        assert address is not None  # noqa: S101 - a sentinel answers while the stack runs
        return redis.Redis(host=address[0], port=address[1])


def rising(api: Target, raw: Target, sizes: Sizes) -> list[dict[str, Any]]:
    """Single bets at each concurrency step, beside the raw loop at the same step, with
    the cores each process used during the API's run."""
    steps = []
    for concurrency in sizes.rising:
        raw_load = _drive(raw, concurrency, sizes.intake_seconds, f"rise-raw-{concurrency}")
        api_load = _drive(api, concurrency, sizes.intake_seconds, f"rise-api-{concurrency}")
        steps.append({"api": api_load.brief(), "raw": raw_load.brief()})
    return steps


def standby_cost(stack: LocalStack, api: Target, raw: Target, sizes: Sizes) -> dict[str, Any]:
    """Single-bet intake and the one-row raw loop with the primary waiting for its
    standby at each commit (as it runs) and not."""
    pair = stack.pg_pair
    assert pair is not None  # noqa: S101 - the scale stack always has its standby
    measured: dict[str, Any] = {}
    for synchronous in (False, True):
        pair.synchronous(synchronous)
        label = "synchronous" if synchronous else "asynchronous"
        measured[label] = {
            "raw_single": _drive(raw, sizes.concurrency, sizes.intake_seconds,
                                 f"sync-raw-{label}").brief(),
            "api_single": _drive(api, sizes.concurrency, sizes.intake_seconds,
                                 f"sync-api-{label}").brief()}
    return measured


def worker_sets(stack: LocalStack, ctx: Context, sizes: Sizes,
                footprint: Footprint) -> list[dict[str, Any]]:
    """Checks per second for each set of worker hosts and processes, the bets' results
    never coming (each check followed by the next at once); read from the simulator's log
    over the window, with the cores each process used."""
    refs = [f"{CHECK_PREFIX}{n:06d}" for n in range(sizes.check_bets)]
    register_at(stack.sim_url, [{"bet_ref": ref, "stake": "10.00", "currency": "EUR",
                                 "fate": "never"} for ref in refs])
    for start in range(0, len(refs), 1000):
        place_bets(ctx, [bet("steady", ref) for ref in refs[start:start + 1000]])
    found = []
    try:
        for hosts, per_host in sizes.worker_sets:
            found.append(_checks_with(stack, hosts, per_host, sizes, footprint))
    finally:
        retire_in(ctx, "steady")
    return found


def _checks_with(stack: LocalStack, hosts: int, per_host: int, sizes: Sizes,
                 footprint: Footprint) -> dict[str, Any]:
    from betguard.messaging.app import app

    workers = []
    for host in range(1, hosts + 1):
        for number in range(1, per_host + 1):
            name = f"w{host}p{number}"
            workers.append(stack.on_host(f"w{host}", processes.provider_worker(
                stack.env, stack.logs / f"worker-{name}-{hosts}x{per_host}.log", name=name,
                concurrency=WORKER_THREADS)).start())
    names = [f"w{h}p{n}@{socket.gethostname()}" for h in range(1, hosts + 1)
             for n in range(1, per_host + 1)]
    try:
        measure.wait_until(lambda: len(app.control.ping(destination=names, timeout=1.0) or [])
                           >= len(names), timeout=90, what=f"{len(names)} workers answering")
        time.sleep(sizes.warmup)
        cpu0, t0, wal0 = measure.cpu_by_process(), time.time(), footprint.now()
        time.sleep(sizes.window)
        cpu1, t1, (wal, _) = measure.cpu_by_process(), time.time(), footprint.since(wal0)
    finally:
        for worker in workers:
            worker.stop()
    log = read_since(stack.sim_url, "log", "requests", t0)
    answered = len(measure.requests_in(log, f"/bets/{CHECK_PREFIX}", t0, t1))
    return {"hosts": hosts, "processes_per_host": per_host,
            "checks_per_second": round(answered / (t1 - t0), 1),
            "wal_bytes_per_check": round(wal / max(answered, 1)),
            "cores": [[name, share] for name, share in
                      measure.cpu_shares(cpu0, cpu1, t1 - t0, top=8)]}


def noop_reference(stack: LocalStack, sizes: Sizes, footprint: Footprint) -> dict[str, Any]:
    """No-op Celery tasks per second on this stack (its Redis under Sentinel), drained by
    as many workers as the main bench's no-op reference (``PROVIDER_WORKERS``, each with
    the provider workers' threads) on one worker host: the reference of the checks by the
    same set of workers."""
    from betguard.messaging.app import app

    names = [f"noop{n}" for n in range(1, PROVIDER_WORKERS + 1)]
    workers = [stack.on_host("w1", processes.ManagedProcess(
        f"noop worker {name}", noop_worker_argv(name, WORKER_THREADS), env=stack.env,
        log=stack.logs / f"worker-{name}.log")).start() for name in names]
    nodes = [f"{name}@{socket.gethostname()}" for name in names]
    try:
        measure.wait_until(lambda: len(app.control.ping(destination=nodes, timeout=1.0) or [])
                           >= len(nodes), timeout=90, what=f"{len(nodes)} no-op workers")
        rate = drain_rate(footprint.redis(), sizes.noop_tasks, nodes)
    finally:
        for worker in workers:
            worker.stop()
    return {"hosts": 1, "processes_per_host": len(names), "tasks": sizes.noop_tasks,
            "tasks_per_second": round(rate, 1)}


def _wait_for_api(url: str) -> None:
    import requests

    def healthy() -> bool:
        try:
            return requests.get(f"{url}/healthz", timeout=5).status_code == 200
        except requests.RequestException:
            return False

    measure.wait_until(healthy, timeout=60, what="the API answering /healthz")


def _drive(target: Target, concurrency: int, seconds: float, tag: str) -> Load:
    load = drive(target, concurrency=concurrency, seconds=seconds,
                 tag=f"{tag}-{secrets.token_hex(2)}")
    say(f"  {tag}: {load.brief()}")
    if load.failures:
        raise RuntimeError(f"{tag}: {load.failures} failed requests, first: {load.first_failure}")
    return load


def _plan(workdir: Path, hosts: Hosts | None, api_workers: int = 1) -> LaunchPlan:
    return LaunchPlan(
        workdir=workdir, policies_toml=STEADY_POLICY + INTAKE_POLICY,
        providers=("steady", "intake"),
        knobs={"latency_ms": LATENCY_MS},
        settings_env={"BETGUARD_SWEEP_INTERVAL": "5", "BETGUARD_LOG_JSON": "false"},
        provider_workers=0, flower=False, api=True, api_workers=api_workers,
        local_postgres=True, redis_over_tcp=True,
        redis_sentinel=True, postgres_standby=True, durable_postgres=True,
        notifications=False, hosts=hosts)


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
