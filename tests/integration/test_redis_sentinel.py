"""Redis through Sentinel: betguard's workers, beat, publishers and guards find the master
the sentinels name, and after the master is SIGKILLed and the replica promoted they carry
on with it -- bets placed before and after the failover settle. Real redis-server
processes (a master, a replica, three sentinels, with passwords), real Celery workers and
beat, the stack's PostgreSQL server (a database of this module's own) and simulator."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from unittest import mock

import pytest
from celery import Celery

from betguard.bootstrap import build_context
from betguard.config.celery import celery_config
from betguard.config.settings import Settings, SettingsError
from betguard.messaging.scheduler import CeleryScheduler
from betguard.models.domain.snapshot import BetSnapshot
from betguard.providers.guard_redis import guard_client
from betguard.services.context import Context
from betguard.services.intake import place_bet
from betguard_devkit.local_services import SentinelGroup
from tests.integration.harness import (
    OwnPipeline,
    Stack,
    bet_payload,
    database_of_its_own,
    pipeline_of_its_own,
    run_betguard,
)

pytestmark = pytest.mark.integration

PROVIDER = "patient"  # answers at once; checked again soon when it has no answer yet


@dataclass
class Sentinelled:
    group: SentinelGroup
    own: OwnPipeline  # workers and beat; this process's context publishes through Sentinel
    env: dict[str, str]  # the workers', beat's and commands'

    @property
    def settings(self) -> Settings:
        return self.own.settings

    @property
    def context(self) -> Context:
        return self.own.context

    def place(self, stack: Stack, payout: str) -> BetSnapshot:
        ref = f"snt-{secrets.token_hex(6)}"
        stack.sim("POST", "/_sim/bets", {"bet_ref": ref, "stake": "10.00", "currency": "EUR",
                                         "fate": "returned", "payout": payout})
        return place_bet(self.context, bet_payload(PROVIDER, ref)).bet

    def settled(self, bet: BetSnapshot, timeout: float = 60) -> BetSnapshot:
        return self.own.settled(bet, timeout)


def settings_of(env: dict[str, str]) -> Settings:
    with mock.patch.dict(os.environ, env, clear=True):
        return Settings()


@pytest.fixture(scope="module")
def sentinelled(stack: Stack, tmp_path_factory: pytest.TempPathFactory,
                ) -> Iterator[Sentinelled]:
    base = tmp_path_factory.mktemp("sentinel")
    group = SentinelGroup(base_dir=base / "redis", password=secrets.token_hex(12),
                          sentinel_password=secrets.token_hex(12))
    with group, database_of_its_own(stack, "sentinel", pool_size=4) as db:
        env = {key: value for key, value in stack.env.items() if key != "REDIS_URL"}
        env |= group.env() | {"DATABASE_URL": db.url}
        with pipeline_of_its_own(env, base, "snt") as own:
            yield Sentinelled(group, own, env)


def test_the_settings_name_the_sentinels_and_the_broker_url_is_theirs(
    sentinelled: Sentinelled,
) -> None:
    settings, group = sentinelled.settings, sentinelled.group
    target = settings.sentinel

    assert target is not None and target.sentinels == tuple(group.sentinel_addresses)
    assert settings.broker_url.count("sentinel://") == 3
    assert celery_config(settings)["broker_transport_options"]["master_name"] == "betguard"


def test_bets_settle_through_sentinel_before_and_after_the_master_is_killed(
    stack: Stack, sentinelled: Sentinelled,
) -> None:
    group = sentinelled.group
    before = sentinelled.settled(sentinelled.place(stack, "12.00"))
    assert before.payout is not None and float(before.payout) == 12.0

    old = group.master_address()
    assert old is not None
    group.kill_master()
    new = group.wait_for_failover(old)
    after = [sentinelled.place(stack, "7.00") for _ in range(3)]

    assert new != old
    for bet in after:  # woken through the new master, or found by beat's sweep
        settled = sentinelled.settled(bet, timeout=90)
        assert settled.payout is not None and float(settled.payout) == 7.0


def test_the_guards_client_writes_to_whichever_server_the_sentinels_name(
    sentinelled: Sentinelled,
) -> None:
    client = guard_client(sentinelled.settings)
    key = f"betguard:test:{secrets.token_hex(4)}"
    client.set(key, "1", ex=60)

    master = sentinelled.group.master()
    with master.client() as direct:
        assert direct.get(key) == b"1"
    assert client.connection_pool.master_address == master.address


def test_an_unknown_master_name_is_refused_at_start_up_naming_the_setting(
    sentinelled: Sentinelled,
) -> None:
    settings = settings_of(sentinelled.env | {"BETGUARD_REDIS_MASTER_NAME": "betgaurd"})

    with pytest.raises(SettingsError, match="BETGUARD_REDIS_MASTER_NAME='betgaurd': the "
                                            r"sentinels monitor no master of that name "
                                            r"\(they monitor: betguard\)"):
        build_context(settings, CeleryScheduler.from_settings(Celery("refused"), settings))


def test_doctor_shows_the_master_the_sentinels_name_and_its_replica(
    sentinelled: Sentinelled,
) -> None:
    report = run_betguard(sentinelled.env, "doctor", "--json").json()

    master = sentinelled.group.master()
    assert report["redis"]["address"] == "{}:{}".format(*master.address)
    assert report["redis"]["role"] == "master"
    others = [s for s in sentinelled.group.servers if s.running and s is not master]
    assert [r["state"] for r in report["redis"]["replicas"]] == ["online"] * len(others)
    assert "through sentinel betguard" in report["redis"]["summary"]
