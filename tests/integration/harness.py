"""A running betguard for integration tests: real PostgreSQL, Redis, simulator,
Celery worker processes and beat, and a test-side context to place bets and
read their history."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import redis
import requests
import uvicorn
from celery import Celery
from sqlalchemy import select

from betguard.bootstrap import build_context
from betguard.config.celery import celery_config
from betguard.config.settings import Settings
from betguard.messaging.scheduler import CeleryScheduler
from betguard.models.domain.events import EventKind
from betguard.models.domain.snapshot import BetSnapshot
from betguard.models.domain.states import BetState
from betguard.models.store import repository
from betguard.models.store.db import Database
from betguard.models.store.migrate import upgrade
from betguard.models.store.tables import AuditEvent, Bet, Notification, Review
from betguard.providers.fallback import set_fallback_hook
from betguard.providers.wallet import refund_idempotency_key
from betguard.services.context import Context
from betguard_devkit import processes
from betguard_devkit.local_services import PostgresServer, RedisServer, free_port
from betguard_devkit.neighbours import DripProxy
from betguard_devkit.runrefs import round_fields
from tests.integration.receiver import Receiver

WAIT_SECONDS = 45.0

POLICY_TEMPLATE = """
[providers.refunder]   # refund at the deadline
max_concurrency = 8    # as many as the worker's threads: these tests place many bets
                       #   of one provider at once; the guards have tests of their own
base_url = "{sim}"
escalation = "refund"
first_check_delay = 0.2
backoff_base = 0.3
backoff_factor = 2
backoff_cap = 1.0
jitter = 0.5
deadline = 3.0
read_timeout = 1.0
http_attempts = 2

[providers.reviewer]   # a person decides at the deadline
max_concurrency = 8
base_url = "{sim}"
escalation = "review"
first_check_delay = 0.2
backoff_base = 0.3
backoff_factor = 2
backoff_cap = 1.0
jitter = 0.5
deadline = 3.0
read_timeout = 1.0
http_attempts = 2

[providers.patient]    # a long deadline: anything final before it did not wait for it
max_concurrency = 8
base_url = "{sim}"
escalation = "refund"
first_check_delay = 0.2
backoff_base = 0.3
backoff_factor = 2
backoff_cap = 1.0
jitter = 0.5
deadline = 600
read_timeout = 1.0
http_attempts = 2

[providers.backoff]    # small jitter, so the growth of the gaps is visible
max_concurrency = 8
base_url = "{sim}"
escalation = "review"
first_check_delay = 0.2
backoff_base = 0.4
backoff_factor = 2
backoff_cap = 3.2
jitter = 0.25
deadline = 12
read_timeout = 1.0
http_attempts = 2

[providers.sleepy]     # checks far apart: only the messages a test sends run
max_concurrency = 8
base_url = "{sim}"
escalation = "refund"
first_check_delay = 60
backoff_base = 60
backoff_cap = 60
deadline = 900
read_timeout = 1.0
http_attempts = 1

[providers.batcher]    # answers many bets in one call; refunds at the deadline
max_concurrency = 8
base_url = "{sim}"
supports_batch = true
batch_size = 3
escalation = "refund"
first_check_delay = 0.2
backoff_base = 0.3
backoff_factor = 2
backoff_cap = 1.0
jitter = 0.5
deadline = 3.0
read_timeout = 1.0
http_attempts = 2

[providers.sleepy_batcher]  # batched, checks far apart: only the checks a test runs happen
max_concurrency = 8
base_url = "{sim}"
supports_batch = true
escalation = "refund"
first_check_delay = 60
backoff_base = 60
backoff_cap = 60
deadline = 900
read_timeout = 1.0
http_attempts = 1

[providers.slow]       # waits long enough for a check to be caught in flight
max_concurrency = 8
base_url = "{sim}"
escalation = "refund"
first_check_delay = 0.2
backoff_base = 0.5
backoff_cap = 1.0
deadline = 8
read_timeout = 10.0
http_attempts = 1

[providers.fencing]    # "never saw it" believed after 1 s: cancel (fence), refund up to 100
max_concurrency = 8
base_url = "{sim}"
escalation = "refund_up_to"
refund_limit = "100.00"
unknown_grace = 1.0
first_check_delay = 0.2
backoff_base = 0.3
backoff_factor = 2
backoff_cap = 1.0
jitter = 0.5
deadline = 600
read_timeout = 1.0
http_attempts = 2

[providers.slow_batcher]  # batched; answers held up to 3 s; its first check is the deadline's
max_concurrency = 8
base_url = "{sim}"
supports_batch = true
batch_size = 5
escalation = "refund"
first_check_delay = 60
backoff_base = 60
backoff_cap = 60
deadline = 120
read_timeout = 3.0
http_attempts = 1

[providers.hanging]    # a second simulator whose answers outlast the read timeout (test_bulkheads)
base_url = "{hanging_sim}"
escalation = "review"
first_check_delay = 0.2
backoff_base = 0.5
backoff_factor = 2
backoff_cap = 2.0
jitter = 0.5
deadline = 600
read_timeout = 1.0
http_attempts = 1
max_concurrency = 2
breaker_failures = 3
breaker_cooldown = 3.0

[providers.healthy]    # its neighbour in the same worker, on the main simulator; its own
max_concurrency = 8    #   bulkhead as wide as the worker's threads: only the hanging
base_url = "{sim}"     #   provider's share may limit it
escalation = "review"
first_check_delay = 0.2
backoff_base = 0.3
backoff_cap = 1.0
jitter = 0.5
deadline = 600
read_timeout = 1.0
http_attempts = 2

[providers.hanging_deadline]  # the hanging simulator; breaker open from the first timeout on
base_url = "{hanging_sim}"
escalation = "refund"
first_check_delay = 0.2
backoff_base = 0.3
backoff_cap = 1.0
jitter = 0.5
deadline = 4.0
read_timeout = 1.0
http_attempts = 1
breaker_failures = 1
breaker_cooldown = 600

[providers.hanging_wide]  # the hanging simulator, bulkhead (4), breaker (5 failures) and
base_url = "{hanging_sim}"  # attempts (3) at their defaults (test_hanging_waves)
escalation = "review"
first_check_delay = 0.2
backoff_base = 0.5
backoff_cap = 2.0
jitter = 0.5
deadline = 600
connect_timeout = 0.5
read_timeout = 1.0
breaker_cooldown = 3.0

[providers.dripping]   # the main simulator behind a proxy sending each answer a byte at a
base_url = "{drip}"    #   time, headers included (test_dripping_provider); its breaker
escalation = "review"  #   never opens, so only the bulkhead and the deadline bound it
first_check_delay = 0.2
backoff_base = 0.3
backoff_cap = 1.0
jitter = 0.5
deadline = 600
connect_timeout = 0.5
read_timeout = 1.0
http_attempts = 1
max_concurrency = 2
breaker_failures = 1000

[providers.pgsoft]     # history only (a third simulator speaking the PG-like dialect):
adapter = "pgsoft"     #   no status call, no cancel; checks read the feed's mirror
base_url = "{pgsoft_sim}"
max_concurrency = 8
escalation = "refund"
first_check_delay = 0.5
backoff_base = 0.5
backoff_cap = 1.0
jitter = 0.5
deadline = 20
unknown_grace = 10
read_timeout = 1.0
http_attempts = 2
feed_interval = 0.5
feed_lag = 2
feed_page_size = 1500
options = {{ operator_token = "test-operator", hash_salt_env = "BETGUARD_TEST_PGSOFT_SALT" }}

[providers.pragmatic]  # DataFeeds per environment, cancelRound (a fourth simulator)
adapter = "pragmatic"
base_url = "{pragmatic_sim}"
max_concurrency = 8
escalation = "refund"
first_check_delay = 0.2
backoff_base = 0.3
backoff_cap = 1.0
jitter = 0.5
deadline = 12
unknown_grace = 3      # a round not listed is cancelled after 3 s: fenced, or "completed"
read_timeout = 1.0
http_attempts = 2
feed_interval = 1.0
feed_lag = 1

[providers.pragmatic.options]  # each environment its own data host (here: the simulator's)
secure_login = "test-login"
environments = {{ main = "{pragmatic_sim}", asia = "{pragmatic_sim}/env/asia" }}

[providers.pausing]    # the game circuit breaker: 3 unreturned bets of a game pause it,
max_concurrency = 8    #   5 of the whole provider pause all its games; a person decides
base_url = "{sim}"     #   at a deadline far away, so its bets stay open until resolved
escalation = "review"
first_check_delay = 0.2
backoff_base = 0.3
backoff_cap = 1.0
jitter = 0.5
deadline = 600
read_timeout = 1.0
http_attempts = 2
pause = {{ unreturned_after = 0.5, game = 3, provider = 5, resume_ratio = 0.5 }}
""" + f"""
[providers.mirrored]   # its primary a closed loopback port: served by its fallback
max_concurrency = 8
base_url = "http://127.0.0.1:{free_port()}"
fallback_urls = ["{{sim}}"]
escalation = "refund"
first_check_delay = 0.2
backoff_base = 0.3
backoff_cap = 1.0
jitter = 0.5
deadline = 600
read_timeout = 1.0
http_attempts = 2

[providers.pgsoft_resolving]  # the PG-like simulator again (it sees pgsoft's rounds too):
adapter = "pgsoft"            #   no cancel; at the deadline it waits for the provider to
base_url = "{{pgsoft_sim}}"    #   resolve the bet itself (6 s, seen in the feed 4 s later)
max_concurrency = 8
escalation = "review"
first_check_delay = 0.5
backoff_base = 0.5
backoff_cap = 1.0
jitter = 0.5
deadline = 3
provider_resolves_after = 6
read_timeout = 1.0
http_attempts = 2
feed_interval = 0.5
feed_lag = 4
options = {{{{ operator_token = "test-operator", hash_salt_env = "BETGUARD_TEST_PGSOFT_SALT" }}}}

[providers.pgsoft_reviewer]   # the PG-like simulator again: no cancel, and a person
adapter = "pgsoft"            #   decides at the deadline (its provider_resolves_after unset)
base_url = "{{pgsoft_sim}}"
max_concurrency = 8
escalation = "review"
first_check_delay = 0.5
backoff_base = 0.5
backoff_cap = 1.0
jitter = 0.5
deadline = 2
read_timeout = 1.0
http_attempts = 2
feed_interval = 0.5
feed_lag = 1
options = {{{{ operator_token = "test-operator", hash_salt_env = "BETGUARD_TEST_PGSOFT_SALT" }}}}
"""

# The providers above, each with the provider secret the simulators share.
PROVIDER_NAMES = ["refunder", "reviewer", "patient", "backoff", "sleepy", "slow", "batcher",
                  "sleepy_batcher", "fencing", "slow_batcher", "hanging", "healthy",
                  "hanging_deadline", "hanging_wide", "dripping", "pgsoft", "pragmatic",
                  "pausing", "mirrored", "pgsoft_resolving", "pgsoft_reviewer"]


@dataclass
class Stack:
    base: Path
    postgres: PostgresServer
    redis: RedisServer
    env: dict[str, str] = field(default_factory=dict)
    sim_url: str = ""
    workers: list[processes.ManagedProcess] = field(default_factory=list)
    beat: processes.ManagedProcess | None = None
    ctx: Context | None = None
    receiver: Receiver | None = None
    metrics_port: int | None = None  # where the provider worker serves its metrics
    hanging_sim_url: str = ""  # a second simulator: the "hanging" provider
    pgsoft_sim_url: str = ""  # a third, speaking the PG-like dialect
    pragmatic_sim_url: str = ""  # a fourth, speaking the Pragmatic-like dialect
    drip: DripProxy | None = None  # the "dripping" provider: the main simulator, dripped

    @property
    def pgsoft_sim(self) -> SimControl:
        return SimControl(self.pgsoft_sim_url)

    @property
    def pragmatic_sim(self) -> SimControl:
        return SimControl(self.pragmatic_sim_url)

    # -- the game server's side ------------------------------------------------------------
    def place(self, provider: str, *, fate: str, stake: str = "10.00",
              fault: str | None = None, **sim: Any) -> BetSnapshot:
        """Place a bet at the simulator (as the game server would), then register it;
        ``fault`` spoils the provider's first answer about it (queued before betguard
        knows the bet, so its first check cannot come first)."""
        ref = f"bet-{secrets.token_hex(6)}"
        decided = self.sim("POST", "/_sim/bets",
                           {"bet_ref": ref, "stake": stake, "currency": "EUR", "fate": fate, **sim})
        if fault is not None:
            self.sim("POST", "/_sim/faults", {"bet_ref": ref, "fault": fault, "times": 1})
        self.last_fate = decided
        from betguard.services.intake import place_bet

        return place_bet(self.context, bet_payload(provider, ref, stake)).bet

    @property
    def context(self) -> Context:
        assert self.ctx is not None
        return self.ctx

    # -- reading the truth -----------------------------------------------------------------
    def bet(self, bet_id: int) -> BetSnapshot:
        return bet_in(self.context.db, bet_id)

    def row(self, bet_id: int) -> Bet:
        with self.context.db.unit_of_work() as session:
            row = session.get(Bet, bet_id)
            assert row is not None
            session.expunge(row)
            return row

    def history(self, bet_id: int) -> list[AuditEvent]:
        return history_in(self.context.db, bet_id)

    def kinds(self, bet_id: int) -> list[str]:
        return [e.kind for e in self.history(bet_id)]

    def details(self, bet_id: int, kind: EventKind) -> list[dict[str, Any]]:
        """The details of the bet's audit events of ``kind``, oldest first."""
        return [dict(event.detail) for event in self.history(bet_id) if event.kind == kind.value]

    def reviews(self, bet_id: int) -> list[Review]:
        with self.context.db.unit_of_work() as session:
            rows = list(session.scalars(select(Review).where(Review.bet_id == bet_id)))
            session.expunge_all()
            return rows

    def notifications(self, bet_id: int) -> list[Notification]:
        """The bet's notifications to the game server, as the outbox holds them."""
        with self.context.db.unit_of_work() as session:
            rows = list(session.scalars(select(Notification).where(Notification.bet_id == bet_id)))
            session.expunge_all()
            return rows

    def wait_for_state(self, bet_id: int, *states: BetState,
                       timeout: float = WAIT_SECONDS) -> BetSnapshot:
        bet = wait_until(lambda: self._in_state(bet_id, states), timeout,
                         lambda: f"bet {bet_id} history: {self.kinds(bet_id)}")
        assert isinstance(bet, BetSnapshot)
        return bet

    def _in_state(self, bet_id: int, states: tuple[BetState, ...]) -> BetSnapshot | None:
        bet = self.bet(bet_id)
        return bet if bet.state in states else None

    def sim(self, method: str, path: str, body: object | None = None) -> Any:
        response = requests.request(method, self.sim_url + path, json=body, timeout=10)
        response.raise_for_status()
        return response.json()

    def truth(self) -> dict[str, Any]:
        return dict(self.sim("GET", "/_sim/truth"))

    def wallet_refunds(self, bet_ref: str) -> list[dict[str, Any]]:
        """The refunds of ``bet_ref`` the simulated wallet holds."""
        return [refund for refund in self.truth()["refunds"].values()
                if refund["bet_ref"] == bet_ref]

    def refund_requests(self, bet: BetSnapshot) -> int:
        """How many refund calls of ``bet`` the simulated wallet received."""
        key = refund_idempotency_key(bet.provider, bet.bet_ref)
        return int(self.truth()["refund_requests"].get(key, 0))

    def provider_secret(self, provider: str) -> str:
        """The secret the stack's workers sign ``provider``'s calls with."""
        return str(json.loads(self.env["BETGUARD_PROVIDER_SECRETS"])[provider])

    # -- processes -------------------------------------------------------------------------
    def start_workers(self) -> None:
        logs = self.base / "logs"
        self.metrics_port = free_port()
        self.workers = [
            processes.provider_worker(self.env, logs / "provider.log",
                                      metrics_port=self.metrics_port).start(),
            processes.default_worker(self.env, logs / "default.log", concurrency=1).start(),
        ]
        wait_for_workers(self, len(self.workers))

    def stop_workers(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.workers = []

    def start_beat(self) -> None:
        self.beat = processes.beat(self.env, self.base / "logs" / "beat.log",
                                   schedule_file=self.base / "beat-schedule").start()


@contextlib.contextmanager
def database_of_its_own(stack: Stack, name: str, *, pool_size: int) -> Iterator[Database]:
    """A migrated PostgreSQL database of the stack's server that no worker or beat of the
    stack reads: a test's bets there are only what the test does to them."""
    url = stack.postgres.create_database(name)
    upgrade(url)
    db = Database(url, pool_size=pool_size)
    try:
        yield db
    finally:
        db.dispose()


@dataclass(frozen=True)
class OwnPipeline:
    """A betguard of a test's own: its settings, this process's context, and the logs
    of its workers and beat."""

    settings: Settings
    context: Context
    logs: Path

    def settled(self, bet: BetSnapshot, timeout: float = 90) -> BetSnapshot:
        """``bet`` once a check settled it (the test fails naming its state otherwise)."""
        db = self.context.db

        def done() -> BetSnapshot | None:
            now = bet_in(db, bet.id)
            return now if now.state is BetState.SETTLED else None

        found = wait_until(done, timeout, lambda: f"bet {bet.id}: "
                           f"{bet_in(db, bet.id).state}; logs in {self.logs}")
        assert isinstance(found, BetSnapshot)
        return found


@contextlib.contextmanager
def pipeline_of_its_own(env: dict[str, str], base: Path, name: str, *,
                        pool_size: int = 10) -> Iterator[OwnPipeline]:
    """A provider worker, a default worker and beat configured by ``env`` (a database
    and a Redis of the test's own), and a context of this process publishing to them."""
    with mock.patch.dict(os.environ, env, clear=True):
        settings = Settings()
    app = Celery(f"betguard-{name}-test")
    app.conf.update(celery_config(settings))
    context = build_context(settings, CeleryScheduler.from_settings(app, settings),
                            db_pool_size=pool_size)
    logs = base / "logs"
    running = [
        processes.provider_worker(env, logs / "provider.log", name=f"{name}-provider",
                                  metrics_port=free_port()).start(),
        processes.default_worker(env, logs / "default.log", name=f"{name}-default",
                                 concurrency=1).start(),
        processes.beat(env, logs / "beat.log", schedule_file=base / "beat-schedule").start(),
    ]
    try:
        yield OwnPipeline(settings, context, logs)
    finally:
        for process in running:
            process.stop()
        context.db.dispose()


def bet_in(db: Database, bet_id: int) -> BetSnapshot:
    """A bet as ``db`` holds it now (the stack's, or a test's own database)."""
    with db.unit_of_work() as session:
        bet = repository.get(session, bet_id)
    assert bet is not None
    return bet


def history_in(db: Database, bet_id: int) -> list[AuditEvent]:
    """A bet's audit events as ``db`` holds them, oldest first."""
    with db.unit_of_work() as session:
        events = repository.history(session, bet_id)
        session.expunge_all()
        return events


@dataclass(frozen=True)
class SimControl:
    """The control API (``/_sim/...``) of one simulator of the stack."""

    url: str

    def call(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        """One call: its JSON answer, which must come with the status ``expect``."""
        response = requests.request(method, self.url + path, json=body, timeout=30)
        assert response.status_code == expect, response.text
        return response.json()

    @contextlib.contextmanager
    def knobs(self, **changes: Any) -> Iterator[None]:
        """Set knobs of the simulator for the block, then put back what they were."""
        before = self.call("GET", "/_sim/knobs")
        self.call("POST", "/_sim/knobs", changes)
        try:
            yield
        finally:
            self.call("POST", "/_sim/knobs", {key: before[key] for key in changes})


@contextlib.contextmanager
def served(app: Any, path: str = "") -> Iterator[str]:
    """``app`` (ASGI) served on loopback in a thread of this process for the block: the
    URL of ``path`` on it."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off",
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, 10)
    try:
        yield f"http://127.0.0.1:{port}{path}"
    finally:
        server.should_exit = True
        thread.join(10)


def register_returned(url: str, refs: list[str]) -> None:
    """Bets the simulator at ``url`` returns at once, each with a payout of 15.00."""
    bets = [{"bet_ref": ref, "stake": "10.00", "currency": "EUR", "fate": "returned",
             "payout": "15.00"} for ref in refs]
    requests.post(url + "/_sim/bets", json={"bets": bets}, timeout=30).raise_for_status()


def dead_url() -> str:
    """A loopback base URL nothing listens on: every call to it is refused."""
    return f"http://127.0.0.1:{free_port()}"


@contextlib.contextmanager
def fallbacks_heard() -> Iterator[list[tuple[str, str]]]:
    """The (provider, base URL) of each answer a fallback gave in this process during the
    block, as the fallback hook hears them (the workers' metrics count the same)."""
    heard: list[tuple[str, str]] = []
    previous = set_fallback_hook(lambda provider, url: heard.append((provider, url)))
    try:
        yield heard
    finally:
        set_fallback_hook(previous)


def pg_round_id() -> str:
    """A PG round id unique to the test: 18 or 19 digits, below 2^63 (a 64-bit integer no
    float holds exactly)."""
    return str(10**17 + secrets.randbelow(9 * 10**18))


BETGUARD = str(Path(sys.executable).parent / "betguard")


@dataclass(frozen=True)
class Run:
    """What one run of the ``betguard`` command gave."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        assert self.code == 0, self.err
        return json.loads(self.out)


def run_betguard(env: Mapping[str, str], *args: str, timeout: float = 60,
                 cwd: Path | None = None) -> Run:
    """Run ``betguard *args`` as its own process with ``env`` (in ``cwd``, if given)."""
    done = subprocess.run([BETGUARD, *args], env=dict(env), cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, check=False)
    return Run(done.returncode, done.stdout, done.stderr)


def bet_payload(provider: str, ref: str, stake: str = "10.00") -> dict[str, str]:
    return {"provider": provider, "bet_ref": ref, "player_id": "player-1",
            **round_fields(ref, "slots-7"), "stake": stake, "currency": "EUR"}


def wait_until(probe: Callable[[], Any], timeout: float = WAIT_SECONDS,
               describe: Callable[[], str] = lambda: "") -> Any:
    """Poll ``probe`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"not reached within {timeout} s. {describe()}")


def wait_for_workers(stack: Stack, count: int) -> None:
    from betguard.messaging.app import app

    def answered() -> bool:
        for worker in stack.workers:
            if not worker.alive():
                raise AssertionError(f"{worker.name} died: {worker.log.read_text()[-3000:]}")
        try:
            return len(app.control.ping(timeout=0.5)) >= count
        except (ConnectionError, OSError, redis.exceptions.ConnectionError):
            return False  # Redis was just restarted: the pool reconnects on the next try

    wait_until(answered, 60, lambda: "workers did not answer ping")


def start_simulator(stack: Stack, provider_secret: str, wallet_secret: str) -> None:
    port_file = stack.base / "sim.port"
    process = processes.simulator(stack.env, stack.base / "logs" / "simulator.log",
                                  port_file=port_file, provider_secret=provider_secret,
                                  wallet_secret=wallet_secret).start()
    port = processes.wait_for_file(port_file, process)
    stack.sim_url = f"http://127.0.0.1:{port}"


def start_hanging_simulator(stack: Stack, provider_secret: str, wallet_secret: str) -> None:
    """A second simulator, for the "hanging" provider: its latency knob is its own."""
    port_file = stack.base / "hanging-sim.port"
    process = processes.simulator(stack.env, stack.base / "logs" / "hanging-simulator.log",
                                  port_file=port_file, provider_secret=provider_secret,
                                  wallet_secret=wallet_secret).start()
    port = processes.wait_for_file(port_file, process)
    stack.hanging_sim_url = f"http://127.0.0.1:{port}"


# The dripping provider sends one byte of an answer this often: its read timeout never
# fires, and a whole answer (some 400 bytes) would take minutes.
DRIP_SECONDS = 0.5


def start_drip_proxy(stack: Stack) -> None:
    """The "dripping" provider: the main simulator behind a :class:`DripProxy`."""
    stack.drip = DripProxy(stack.sim_url, seconds_per_byte=DRIP_SECONDS).start()


# PG's hash authentication is on in the test stack: the PG-like simulator requires it
# (its salt in SIMULATOR_PGSOFT_HASH_SALT), and every pgsoft policy names this variable.
PGSOFT_SALT_ENV = "BETGUARD_TEST_PGSOFT_SALT"


def start_dialect_simulator(stack: Stack, dialect: str, provider_secret: str,
                            wallet_secret: str, only_its_own: Mapping[str, str] | None = None
                            ) -> str:
    """A simulator speaking a foreign provider dialect; returns its URL. ``only_its_own``
    is environment for its process alone (not the stack's: the demo and drills the
    tests start inherit that, and their simulators must not require a PG hash)."""
    port_file = stack.base / f"{dialect}-sim.port"
    env = {**stack.env, **(only_its_own or {})}
    process = processes.simulator(env, stack.base / "logs" / f"{dialect}-simulator.log",
                                  port_file=port_file, provider_secret=provider_secret,
                                  wallet_secret=wallet_secret, dialect=dialect).start()
    port = processes.wait_for_file(port_file, process)
    return f"http://127.0.0.1:{port}"


def configure(stack: Stack, provider_secret: str, wallet_secret: str,
              notify_url: str, notify_secret: str) -> Mapping[str, str]:
    policy_file = stack.base / "policies.toml"
    policy_file.write_text(POLICY_TEMPLATE.format(
        sim=stack.sim_url, hanging_sim=stack.hanging_sim_url,
        drip=stack.drip.url if stack.drip is not None else "http://127.0.0.1:9",
        pgsoft_sim=stack.pgsoft_sim_url, pragmatic_sim=stack.pragmatic_sim_url))
    names = PROVIDER_NAMES
    return {
        "DATABASE_URL": stack.postgres.url,
        "REDIS_URL": stack.redis.url,
        "BETGUARD_POLICY_FILE": str(policy_file),
        "BETGUARD_PROVIDER_SECRETS": json.dumps({n: provider_secret for n in names}),
        "BETGUARD_WALLET_URL": stack.sim_url,
        "BETGUARD_WALLET_SECRET": wallet_secret,
        "BETGUARD_CHECK_LEASE": "6",
        "BETGUARD_DUE_GRACE": "0.5",
        "BETGUARD_SWEEP_INTERVAL": "1",
        "BETGUARD_REFUND_RETRY_DELAY": "0.5",
        "BETGUARD_NOTIFY_URL": notify_url,
        "BETGUARD_NOTIFY_SECRET": notify_secret,
        "BETGUARD_NOTIFY_ATTEMPTS": "4",
        "BETGUARD_NOTIFY_RETRY_BASE": "0.3",
    }


def build_in_process_context(settings: Settings) -> Context:
    from betguard.messaging.app import app

    return build_context(settings, CeleryScheduler.from_settings(app, settings))
