"""The system under test, started once per run: PostgreSQL, Redis, the simulator, the
provider and default workers and beat (``betguard_devkit.launcher.LocalStack``), plus the
bench's own reference workers, all real processes on loopback."""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
import requests

from bench.worker_app import noop_worker_argv
from betguard.services.context import Context
from betguard_devkit import processes
from betguard_devkit.launcher import LaunchPlan, LocalStack
from betguard_devkit.local_services import free_port
from betguard_devkit.neighbours import DripProxy, Unaccepting

PROVIDERS = ("steady", "batched", "limited", "economy", "intake", "intake_each", "isolated",
             "hanging", "dripping", "unaccepting")
LATENCY_MS = 50.0  # every provider answer takes this long (the wallet answers at once)
# The isolation scenario's second simulator holds every answer this long: longer than the
# hanging provider's read timeout (5 s), as in the issue that asked for bulkheads.
HANG_SECONDS = 12.0
# The dripping neighbour sends each answer, status line and headers included, one byte
# this often: no read ever waits its read timeout (5 s).
DRIP_SECONDS = 2.0
# One provider worker process per core (threads share one interpreter lock), each with
# enough threads to cover the provider's 50 ms; the no-op reference runs the same.
PROVIDER_WORKERS = int(os.environ.get("BENCH_PROVIDER_WORKERS", str(os.cpu_count() or 2)))
PROVIDER_CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "32"))  # threads per worker

# {sim} is the simulator's URL in every policy (the launcher fills it in). The checks' and
# the intake's providers, shared with the scale run (bench/scale/run.py):
STEADY_POLICY = """
[providers.steady]    # checks: one task per bet, the result never comes, checked again at once
base_url = "{sim}"
first_check_delay = 0.001
backoff_base = 0.001
backoff_cap = 0.001
jitter = 1.0
deadline = 86400
escalation = "review"
read_timeout = 5
http_attempts = 1
max_concurrency = 1000  # the provider takes every call the workers make at once
"""
INTAKE_POLICY = """
[providers.intake]    # intake: batched queries, first check well after the bench is over
base_url = "{sim}"
supports_batch = true
batch_size = 500
first_check_delay = 590
backoff_base = 3600
backoff_cap = 3600
deadline = 86400
escalation = "review"
"""
# The others; {rate} is the catch-up provider's rate limit, {hanging}, {dripping} and
# {unaccepting} the isolation scenario's neighbours.
POLICIES = """
[providers.batched]   # resolution: the provider answers POST /bets/status
base_url = "{{sim}}"
supports_batch = true
batch_size = 500
first_check_delay = 0.001
backoff_base = 0.5
backoff_cap = 1
deadline = 86400
escalation = "review"
read_timeout = 5
http_attempts = 2
breaker_cooldown = 1  # the outage opens the breaker: the drain starts up to this late

[providers.limited]   # catch-up: one request per bet, at most `rate_limit` per second
base_url = "{{sim}}"
first_check_delay = 0.5
backoff_base = 0.5
backoff_cap = 1
deadline = 86400
escalation = "review"
read_timeout = 5
http_attempts = 1
rate_limit = {rate}
max_concurrency = 1000  # only the rate limit holds the drain back
breaker_cooldown = 1  # the outage opens the breaker: the drain starts up to this late

[providers.economy]   # provider economy: results reported by the game server come first
base_url = "{{sim}}"
first_check_delay = 1
backoff_base = 0.3
backoff_factor = 2
backoff_cap = 1
jitter = 0.5
deadline = 4
escalation = "refund"
read_timeout = 5
http_attempts = 1

[providers.intake_each]  # intake for a provider woken one bet at a time
base_url = "{{sim}}"
first_check_delay = 590
backoff_base = 3600
backoff_cap = 3600
deadline = 86400
escalation = "review"

[providers.isolated]  # isolation: the healthy neighbour, its bets settled at their first check
base_url = "{{sim}}"
first_check_delay = 1
backoff_base = 1
backoff_cap = 2
deadline = 86400
escalation = "review"
read_timeout = 5

[providers.hanging]   # isolation: a second simulator holds every answer past the read timeout;
base_url = "{hanging}"  # bulkhead and breaker at their defaults, the rest too
first_check_delay = 1
deadline = 86400
escalation = "review"
read_timeout = 5

[providers.dripping]  # isolation: the simulator behind a proxy dripping each answer a byte
base_url = "{dripping}"  # every 2 s, headers included; the rest as the hanging provider
first_check_delay = 1
deadline = 86400
escalation = "review"
read_timeout = 5

[providers.unaccepting]  # isolation: a port whose accept queue is full and never drained:
base_url = "{unaccepting}"  # every connect times out; the rest as the hanging provider
first_check_delay = 1
deadline = 86400
escalation = "review"
read_timeout = 5
"""

SETTINGS_ENV = {
    "BETGUARD_SWEEP_INTERVAL": "5",
    "BETGUARD_LOG_JSON": "false",
}


@dataclass
class BenchStack:
    """A started LocalStack and the handles the scenarios use."""

    local: LocalStack
    ctx: Context
    redis: redis.Redis
    workdir: Path
    extra: list[processes.ManagedProcess]
    hanging_url: str = ""  # the isolation scenario's second simulator
    drip: DripProxy | None = None  # its dripping neighbour, in front of the simulator
    unaccepting: Unaccepting | None = None  # and the one that never accepts a connection

    @property
    def sim_url(self) -> str:
        return self.local.sim_url

    @property
    def env(self) -> dict[str, str]:
        return self.local.env

    def knobs(self, **changes: Any) -> None:
        requests.post(f"{self.sim_url}/_sim/knobs", json=changes, timeout=30).raise_for_status()

    def register(self, specs: list[dict[str, Any]]) -> None:
        register_at(self.sim_url, specs)

    def log_since(self, since: float) -> list[dict[str, Any]]:
        return read_since(self.sim_url, "log", "requests", since)

    def pauses_since(self, since: float) -> list[dict[str, Any]]:
        """The simulator's own garbage-collector pauses since ``since``."""
        return read_since(self.sim_url, "pauses", "pauses", since, timeout=30)

    def truth(self) -> dict[str, Any]:
        answer = requests.get(f"{self.sim_url}/_sim/truth", timeout=300)
        answer.raise_for_status()
        data: dict[str, Any] = answer.json()
        return data

    def register_hanging(self, specs: list[dict[str, Any]]) -> None:
        """Tell the second simulator (the hanging provider) about bets."""
        register_at(self.hanging_url, specs)

    def hanging_log_since(self, since: float) -> list[dict[str, Any]]:
        return read_since(self.hanging_url, "log", "requests", since)

    def provider_worker_pid(self) -> int:
        worker = next(c for c in self.local.children if c.name.startswith("worker provider"))
        return worker.pid

    def start_worker(self, name: str, argv: list[str],
                     extra_env: dict[str, str] | None = None) -> processes.ManagedProcess:
        child = processes.ManagedProcess(name, argv, env={**self.env, **(extra_env or {})},
                                         log=self.local.logs / f"{name}.log").start()
        self.extra.append(child)
        return child

    def start_reference_workers(self) -> None:
        """The no-op workers (started exactly as the provider workers are, listening to
        an idle queue until their measurement) and the naive baseline's worker, started
        now so that their start-up falls outside every measurement."""
        for number in range(1, PROVIDER_WORKERS + 1):
            self.start_worker(f"noop{number}",
                              noop_worker_argv(f"noop{number}", PROVIDER_CONCURRENCY))
        # Celery's defaults: prefork, a process per CPU, prefetch four, early acks.
        self.start_worker("naive", [sys.executable, "-m", "celery", "-A", "bench.naive",
                                    "worker", "-Q", "bench.naive", "-n", "naive@%h"],
                          {"BENCH_NAIVE_PROVIDER_URL": self.sim_url})

    def start_hanging_simulator(self, port: int) -> None:
        """The second simulator, on the port the hanging provider's policy names, signing
        with the same secrets; every answer held ``HANG_SECONDS``."""
        secret = json.loads(self.env["BETGUARD_PROVIDER_SECRETS"])["hanging"]
        port_file = self.workdir / "hanging-simulator.port"
        port_file.unlink(missing_ok=True)
        sim = processes.simulator(self.env, self.local.logs / "hanging-simulator.log",
                                  port_file=port_file, provider_secret=secret,
                                  wallet_secret=self.env["BETGUARD_WALLET_SECRET"],
                                  knobs=json.dumps({"latency_ms": HANG_SECONDS * 1000}),
                                  port=port).start()
        self.extra.append(sim)
        self.hanging_url = f"http://127.0.0.1:{processes.wait_for_file(port_file, sim)}"

    def stop(self) -> None:
        for child in reversed(self.extra):
            child.stop()
        if self.drip is not None:
            self.drip.stop()
        if self.unaccepting is not None:
            self.unaccepting.close()
        self.local.stop()


def register_at(sim_url: str, specs: list[dict[str, Any]]) -> None:
    """Tell a simulator about bets and their fates, in chunks."""
    for start in range(0, len(specs), 5000):
        requests.post(f"{sim_url}/_sim/bets", json={"bets": specs[start:start + 5000]},
                      timeout=120).raise_for_status()


def read_since(sim_url: str, what: str, key: str, since: float,
               timeout: float = 120) -> list[dict[str, Any]]:
    """A simulator's entries of ``GET /_sim/<what>`` after ``since``."""
    answer = requests.get(f"{sim_url}/_sim/{what}", params={"since": since}, timeout=timeout)
    answer.raise_for_status()
    entries: list[dict[str, Any]] = answer.json()[key]
    return entries


def start(workdir: Path, *, rate_limit: float) -> BenchStack:
    hanging_port, drip_port = free_port(), free_port()
    unaccepting = Unaccepting()
    policies = STEADY_POLICY + INTAKE_POLICY + POLICIES.format(
        rate=rate_limit, hanging=f"http://127.0.0.1:{hanging_port}",
        dripping=f"http://127.0.0.1:{drip_port}", unaccepting=unaccepting.url)
    plan = LaunchPlan(
        workdir=workdir, policies_toml=policies, providers=PROVIDERS,
        knobs={"latency_ms": LATENCY_MS}, settings_env=dict(SETTINGS_ENV),
        provider_concurrency=PROVIDER_CONCURRENCY, provider_workers=PROVIDER_WORKERS,
        flower=False, api=False,
        local_postgres=True, redis_over_tcp=True, notifications=False,
    )
    local = LocalStack(plan, dict(os.environ))
    try:
        local.start()
        ctx = local.context()
        client = redis.Redis.from_url(local.env["REDIS_URL"])
        stack = BenchStack(local, ctx, client, workdir, [], unaccepting=unaccepting)
        stack.drip = DripProxy(local.sim_url, seconds_per_byte=DRIP_SECONDS,
                               port=drip_port).start()
        stack.start_reference_workers()
        wait_for_workers(len(local.workers) + len(stack.extra), local)
        stack.start_hanging_simulator(hanging_port)  # not a worker: started after the count
    except BaseException:
        local.stop()
        unaccepting.close()
        raise
    return stack


def wait_for_workers(wanted: int, local: LocalStack, timeout: float = 90.0) -> None:
    """Bounded wait until every worker answers a ping."""
    from betguard.messaging.app import app

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answers = app.control.ping(timeout=1.0) or []
        if len(answers) >= wanted:
            return
    raise RuntimeError(f"workers did not answer within {timeout:.0f} s; logs in {local.logs}")


def python_argv(*args: str) -> list[str]:
    return [sys.executable, *args]


def dumps(data: object) -> str:
    return json.dumps(data, indent=2, sort_keys=True)
