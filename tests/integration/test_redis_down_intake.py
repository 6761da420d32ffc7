"""Redis down never blocks intake: ``POST /bets`` answers (the bet is durable in
PostgreSQL, its wake-up simply not sent) and the sweep dispatches its check, so the
bet is settled all the same.

The API here has a Redis of its own, which the test stops: stopping the session's
Redis would take the workers' broker away from every later test too. The workers and
beat keep theirs, so the bet the API could not wake up is found by their sweep."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from betguard.models.domain.states import BetState
from betguard_devkit.local_services import RedisServer
from tests.integration.api_server import new_ref, running_api
from tests.integration.harness import Stack, bet_payload

pytestmark = pytest.mark.integration

# Without fail-fast publishing one wake-up took 38 s with Redis down; the client gives
# up long before: this bounds a hang, it measures nothing.
CLIENT_TIMEOUT = 5.0


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(base_dir=tmp_path / "redis").start()
    try:
        yield server
    finally:
        server.stop()


def test_a_bet_posted_while_redis_is_down_is_registered_and_settled_by_the_sweep(
    stack: Stack, own_redis: RedisServer,
) -> None:
    with running_api(stack, log_name="api-redis-down.log",
                     env={"REDIS_URL": own_redis.url}) as api:
        ref = new_ref()
        stack.sim("POST", "/_sim/bets", {"bet_ref": ref, "stake": "10.00", "currency": "EUR",
                                         "fate": "returned", "payout": "15.00"})
        own_redis.stop()

        answer = requests.post(api.url + "/bets", json=bet_payload("patient", ref),
                               headers={"Authorization": f"Bearer {api.game_key}"},
                               timeout=CLIENT_TIMEOUT)

        assert answer.status_code == 201, answer.text
        bet_id = answer.json()["bet"]["id"]
        assert stack.kinds(bet_id)[0] == "bet_placed"  # durable in PostgreSQL
        assert api.call("GET", "/healthz").status_code == 200

    settled = stack.wait_for_state(bet_id, BetState.SETTLED, timeout=60)
    assert settled.payout == Decimal("15.00")
    assert "check_dispatched_by_sweep" in stack.kinds(bet_id)
