"""PostgreSQL with a synchronous standby: betguard reaches the primary through a libpq
multi-host URL (``target_session_attrs=read-write``), keeps every commit it
acknowledged across the primary's loss and the standby's promotion, and runs a unit
of work again when its connection is lost -- an intake whose COMMIT answer was lost
is found by its idempotency key, stored once and answered "created" once. Real
PostgreSQL servers (a primary and a streaming standby), a Redis, Celery workers and
beat of this module's own, and the stack's simulator."""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from unittest import mock

import pytest
from celery import Celery
from prometheus_client import generate_latest
from prometheus_client.registry import CollectorRegistry
from sqlalchemy import func, select

from betguard.bootstrap import build_context
from betguard.config.settings import Settings, SettingsError
from betguard.messaging.scheduler import CeleryScheduler
from betguard.metrics.topology import TopologyCollector
from betguard.models.domain.events import EventKind
from betguard.models.domain.snapshot import BetSnapshot
from betguard.models.store.migrate import upgrade
from betguard.models.store.tables import AuditEvent, Bet
from betguard.models.store.topology import server_of
from betguard.services.context import Context
from betguard.services.intake import Placed, place_bet
from betguard_devkit.local_services import PostgresPair, RedisServer
from tests.integration.harness import (
    OwnPipeline,
    Stack,
    bet_payload,
    pipeline_of_its_own,
    run_betguard,
    wait_until,
)

pytestmark = pytest.mark.integration

PROVIDER = "patient"  # answers at once; checked again soon when it has no answer yet


@dataclass
class Replicated:
    pair: PostgresPair
    own: OwnPipeline  # workers and beat; this process's context plays an API's intake
    env: dict[str, str]  # the workers', beat's and commands'

    @property
    def context(self) -> Context:
        return self.own.context

    def place(self, stack: Stack, ref: str | None = None, payout: str = "9.00") -> Placed:
        ref = ref or f"pgf-{secrets.token_hex(6)}"
        stack.sim("POST", "/_sim/bets", {"bet_ref": ref, "stake": "10.00", "currency": "EUR",
                                         "fate": "returned", "payout": payout})
        return place_bet(self.context, bet_payload(PROVIDER, ref))

    def settled(self, bet: BetSnapshot) -> BetSnapshot:
        return self.own.settled(bet)

    def stored(self, ref: str) -> tuple[int, int]:
        """How many rows the bet has, and how many ``bet_placed`` events."""
        with self.context.db.unit_of_work() as session:
            bets = session.scalar(select(func.count()).select_from(Bet).where(
                Bet.provider == PROVIDER, Bet.bet_ref == ref))
            placed = session.scalar(select(func.count()).select_from(AuditEvent).join(
                Bet, Bet.id == AuditEvent.bet_id).where(
                Bet.bet_ref == ref, AuditEvent.kind == EventKind.BET_PLACED.value))
        return int(bets or 0), int(placed or 0)


@pytest.fixture(scope="module")
def replicated(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicated]:
    base = tmp_path_factory.mktemp("pg-failover")
    with PostgresPair(base_dir=base / "pg") as pair, RedisServer(base_dir=base / "redis") as rds:
        upgrade(pair.url)
        env = stack.env | {"DATABASE_URL": pair.url, "REDIS_URL": rds.url}
        with pipeline_of_its_own(env, base, "pgf", pool_size=4) as own:
            yield Replicated(pair, own, env)


def test_the_url_names_both_servers_and_asks_for_the_one_that_takes_writes(
    replicated: Replicated,
) -> None:
    url, pair = replicated.pair.url, replicated.pair
    assert f"host=127.0.0.1:{pair.primary.port}" in url
    assert f"host=127.0.0.1:{pair.standby.port}" in url
    assert "target_session_attrs=read-write" in url
    assert pair.in_sync()


def test_an_intake_whose_commit_answer_was_lost_is_stored_once_and_answered_created(
    stack: Stack, replicated: Replicated,
) -> None:
    pair = replicated.pair
    ref = f"pgf-lost-{secrets.token_hex(4)}"
    pair.standby.stop()  # the primary's commits now wait for the standby's answer
    try:
        with ThreadPoolExecutor(1) as pool:
            placing: Future[Placed] = pool.submit(replicated.place, stack, ref)
            backend = wait_until(lambda: _waiting_for_the_standby(pair), 30,
                                 lambda: "no commit waited for the standby")
            with pair.primary.connect() as conn:  # the commit is cancelled, its answer lost
                conn.execute("SELECT pg_terminate_backend(%s)", (backend,))
            wait_until(lambda: replicated.stored(ref)[0] == 1, 30,
                       lambda: "the cancelled commit was not kept locally")
            pair.standby.start()
            placed = placing.result(timeout=60)
    finally:
        pair.standby.start()
        wait_until(pair.in_sync, 60, lambda: "the standby did not come back in sync")

    assert placed.created, "the game server hears that its bet was created"
    assert replicated.stored(ref) == (1, 1), "stored once, with one bet_placed event"
    replicated.settled(placed.bet)  # and its check was woken


def _waiting_for_the_standby(pair: PostgresPair) -> int | None:
    """The pid of a backend whose COMMIT waits for the synchronous standby."""
    with pair.primary.connect() as conn:
        row = conn.execute("SELECT pid FROM pg_stat_activity WHERE wait_event = 'SyncRep' "
                           "AND datname = 'betguard' LIMIT 1").fetchone()
    return None if row is None else int(row[0])


def test_a_url_that_reaches_only_the_standby_is_refused_at_start_up_naming_the_setting(
    stack: Stack, replicated: Replicated,
) -> None:
    standby = replicated.pair.standby
    assert standby.in_recovery()
    env = stack.env | {"DATABASE_URL": standby.url}
    with mock.patch.dict(os.environ, env, clear=True):
        settings = Settings()

    with pytest.raises(SettingsError, match=r"DATABASE_URL reaches a standby \(127\.0\.0\.1:"
                                            rf"{standby.port}, read-only\)"):
        build_context(settings, CeleryScheduler.from_settings(Celery("refused"), settings))


def test_the_primary_reports_its_synchronous_standby(replicated: Replicated) -> None:
    server = server_of(replicated.context.db.engine)

    assert server is not None and server.role == "primary"
    assert server.synchronous_commit == "on"
    assert [(s.name, s.sync_state) for s in server.standbys] == [("standby1", "sync")]


def test_doctor_shows_the_primary_and_its_standby_in_sync_then_a_commit_that_would_hang(
    replicated: Replicated,
) -> None:
    pair = replicated.pair
    healthy = run_betguard(replicated.env, "doctor", "--json")
    pair.standby.stop()
    try:
        alone = run_betguard(replicated.env, "doctor")
    finally:
        pair.standby.start()
        wait_until(pair.in_sync, 60, lambda: "the standby did not come back in sync")

    report = healthy.json()
    assert report["database"]["address"] == f"127.0.0.1:{pair.primary.port}"
    assert report["database"]["role"] == "primary"
    assert [(s["name"], s["sync_state"]) for s in report["database"]["standbys"]] == [
        ("standby1", "sync")]
    assert report["redis"]["role"] == "master" and report["problems"] == []
    assert alone.code == 1
    assert ("problem: commits wait for a synchronous standby (standby1) and none streams: "
            "writes hang") in alone.out


def test_the_metrics_name_the_primary_its_synchronous_standby_and_the_redis_master(
    replicated: Replicated,
) -> None:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(TopologyCollector(replicated.own.settings, replicated.context.db))
    exposed = generate_latest(registry).decode()

    primary = f"127.0.0.1:{replicated.pair.primary.port}"
    assert f'betguard_database_server{{address="{primary}",role="primary"}} 1.0' in exposed
    assert 'betguard_database_standbys{sync_state="sync"} 1.0' in exposed
    assert "betguard_database_commits_wait_for_standby 1.0" in exposed
    assert 'betguard_database_standby_lag_bytes{standby="standby1"}' in exposed
    assert 'betguard_redis_master{address="127.0.0.1:' in exposed and 'via="REDIS_URL"' in exposed


# Last: it fails the pair over, and the tests above need it as it started.
def test_every_acknowledged_bet_survives_the_primary_and_bets_settle_on_the_new_one(
    stack: Stack, replicated: Replicated,
) -> None:
    pair = replicated.pair
    before = [replicated.place(stack, payout="4.00") for _ in range(20)]
    replicated.settled(before[0].bet)

    old = pair.primary
    new = pair.fail_over()
    during: list[Placed] = []
    placing = threading.Thread(target=lambda: during.extend(
        replicated.place(stack, payout="6.00") for _ in range(5)))
    placing.start()  # through the connections the pool kept to the dead primary
    placing.join(timeout=90)
    after = [replicated.place(stack, payout="6.00") for _ in range(5)]

    assert new is pair.standby and not old.running
    assert len(during) == 5 and all(placed.created for placed in during + after)
    for placed in before:  # every bet the primary acknowledged is on the new primary
        assert replicated.stored(placed.bet.bet_ref) == (1, 1)
    for placed in [*before, *during, *after]:
        settled = replicated.settled(placed.bet)
        assert settled.payout is not None and float(settled.payout) in (4.0, 6.0)
