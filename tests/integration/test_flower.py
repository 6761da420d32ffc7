"""Flower, as ops use it: behind authentication, showing betguard's tasks with the
bet's reference readable in their arguments."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from betguard_devkit import processes
from betguard_devkit.local_services import free_port
from tests.integration.harness import Stack, wait_until

pytestmark = pytest.mark.integration
AUTH = ("ops", "correct-horse-battery")


@pytest.fixture(scope="module")
def flower(stack: Stack) -> Iterator[str]:
    port = free_port()
    process = processes.flower(stack.env, stack.base / "logs" / "flower.log", port=port,
                               basic_auth=":".join(AUTH),
                               db_file=stack.base / "flower.db").start()
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            return requests.get(f"{url}/healthcheck", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    wait_until(answers, 60, lambda: process.log.read_text()[-2000:])
    yield url
    process.stop()


def test_flower_refuses_a_visitor_without_credentials(flower: str) -> None:
    assert requests.get(f"{flower}/", timeout=10).status_code == 401
    assert requests.get(f"{flower}/api/tasks", timeout=10).status_code == 401
    assert requests.get(f"{flower}/", auth=("ops", "wrong"), timeout=10).status_code == 401
    assert requests.get(f"{flower}/", auth=AUTH, timeout=10).status_code == 200


def test_a_bets_check_shows_in_flower_with_its_reference(stack: Stack, flower: str) -> None:
    bet = stack.place("patient", fate="delayed", delay=0.5, payout="2.00")

    def checks_of_the_bet() -> list[dict[str, Any]]:
        tasks = requests.get(f"{flower}/api/tasks", params={"taskname": "betguard.check"},
                             auth=AUTH, timeout=10).json()
        return [t for t in tasks.values() if bet.label in str(t.get("kwargs"))]

    found = wait_until(checks_of_the_bet, 30)

    assert found[0]["name"] == "betguard.check"
    assert f"'bet_id': {bet.id}" in found[0]["kwargs"]
