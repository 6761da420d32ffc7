"""Redis down never blocks intake: ``POST /bets`` answers (the bet is durable in
PostgreSQL, its wake-up simply not sent) and, once Redis is back, the sweep dispatches
its check and the bet is settled. On the running stack: the session's own Redis is
stopped and started again, and the workers reconnect before the test ends."""

from __future__ import annotations

from decimal import Decimal

import pytest
import requests

from models.states import BetState
from tasks.app import app
from tests.integration.api_server import new_ref, running_api
from tests.integration.harness import Stack, bet_payload, wait_for_workers, wait_until

pytestmark = pytest.mark.integration

# Without fail-fast publishing one wake-up took 38 s with Redis down; the client gives
# up long before: this bounds a hang, it measures nothing.
CLIENT_TIMEOUT = 5.0


def workers_answer(stack: Stack) -> bool:
    try:
        return len(app.control.ping(timeout=0.5)) >= len(stack.workers)
    except Exception:  # noqa: BLE001 - Redis just came back: the pools reconnect
        return False


def test_a_bet_posted_while_redis_is_down_is_registered_and_settled_once_redis_is_back(
    stack: Stack,
) -> None:
    with running_api(stack, log_name="api-redis-down.log") as api:
        ref = new_ref()
        stack.sim("POST", "/_sim/bets", {"bet_ref": ref, "stake": "10.00", "currency": "EUR",
                                         "fate": "returned", "payout": "15.00"})
        stack.redis.stop()
        try:
            answer = requests.post(api.url + "/bets", json=bet_payload("patient", ref),
                                   headers={"Authorization": f"Bearer {api.game_key}"},
                                   timeout=CLIENT_TIMEOUT)
            assert answer.status_code == 201, answer.text
            bet_id = answer.json()["bet"]["id"]
            assert stack.bet(bet_id).state is BetState.PENDING  # durable, not yet checked
            assert stack.kinds(bet_id) == ["bet_placed"]
        finally:
            stack.redis.start()
            wait_until(lambda: workers_answer(stack), 60, lambda: "workers did not come back")
            wait_for_workers(stack, len(stack.workers))

        settled = stack.wait_for_state(bet_id, BetState.SETTLED, timeout=60)

    assert settled.payout == Decimal("15.00")
    assert "check_dispatched_by_sweep" in stack.kinds(bet_id)
