"""Single bets placed at the same moment share a transaction (``IntakeGroups``), each still
answered on its own, and none before its group committed: over HTTP to the real API
process, and through the service with the table locked."""

from __future__ import annotations

import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from sqlalchemy import text

from betguard.services.intake import parse_bet
from betguard.services.intake_groups import WRITER_NAME, IntakeGroups
from tests.integration.api_server import Api, settle_leftovers
from tests.integration.harness import Stack, bet_payload

pytestmark = pytest.mark.integration

CLIENTS = 16


@pytest.fixture(scope="module", autouse=True)
def _settled(api: Api, stack: Stack) -> Any:
    yield
    settle_leftovers(api, stack)


def refs(count: int) -> list[str]:
    run = secrets.token_hex(4)
    return [f"api-grp-{run}-{n}" for n in range(count)]


def post_all(api: Api, bodies: list[dict[str, Any]]) -> list[requests.Response]:
    """Every body posted, one a request, from ``CLIENTS`` threads let go at once."""
    start = threading.Event()

    def post(body: dict[str, Any]) -> requests.Response:
        start.wait(timeout=10)
        return api.game("POST", "/bets", json=body)

    with ThreadPoolExecutor(CLIENTS) as pool:
        sent = [pool.submit(post, body) for body in bodies]
        time.sleep(0.2)  # every thread at the gate
        start.set()
        return [future.result() for future in sent]


def transactions_of(stack: Stack, wanted: list[str]) -> int:
    """How many transactions wrote these bets: their rows' distinct ``xmin``."""
    with stack.context.db.engine.connect() as connection:
        return int(connection.execute(
            text("SELECT count(DISTINCT xmin::text) FROM bets WHERE bet_ref = ANY(:refs)"),
            {"refs": wanted}).scalar_one())


def test_single_bets_placed_together_are_each_answered_and_share_commits(
        api: Api, stack: Stack) -> None:
    wanted = refs(160)

    answers = post_all(api, [bet_payload("sleepy", ref) for ref in wanted])

    assert [a.status_code for a in answers] == [201] * len(wanted), answers[0].text
    assert [a.json()["bet"]["bet_ref"] for a in answers] == wanted
    for ref in wanted[:3]:
        story = api.game("GET", f"/bets/sleepy/{ref}").json()
        assert [e["kind"] for e in story["history"]] == ["bet_placed"]
    assert transactions_of(stack, wanted) < len(wanted)


def test_a_conflict_or_a_repeat_beside_others_is_answered_alone(api: Api, stack: Stack) -> None:
    placed, *fresh = refs(40)
    assert api.game("POST", "/bets", json=bet_payload("sleepy", placed)).status_code == 201
    bodies = [bet_payload("sleepy", ref) for ref in fresh]
    bodies[5] = bet_payload("sleepy", placed, stake="99.00")  # the reference, another stake
    bodies[9] = bet_payload("sleepy", placed)  # the same bet again
    bodies[20] = {**bet_payload("sleepy", fresh[20]), "stake": 12.5}  # money as a float
    bodies[30] = bet_payload("sleepy", fresh[31])  # placed twice in the same moment

    answers = post_all(api, bodies)

    statuses = [a.status_code for a in answers]
    assert statuses[5] == 409 and answers[5].json()["fields"] == ["stake"]
    assert statuses[9] == 200 and answers[9].json()["bet"]["bet_ref"] == placed
    assert statuses[20] == 422
    assert sorted([statuses[30], statuses[31]]) == [200, 201]
    assert answers[30].json()["bet"]["id"] == answers[31].json()["bet"]["id"]
    others = [s for n, s in enumerate(statuses) if n not in (5, 9, 20, 30, 31)]
    assert others == [201] * len(others)


def test_no_bet_is_answered_before_its_group_commits(stack: Stack) -> None:
    groups = IntakeGroups(stack.context)
    wanted = refs(12)
    answered: list[str] = []

    def place(ref: str) -> None:
        groups.place(parse_bet(bet_payload("sleepy", ref)))
        answered.append(ref)

    with stack.context.db.engine.connect() as holder:
        holder.execute(text("LOCK TABLE bets IN SHARE MODE"))  # inserts wait for it
        threads = [threading.Thread(target=place, args=(ref,)) for ref in wanted]
        for thread in threads:
            thread.start()
        time.sleep(1.0)
        assert answered == []
        holder.rollback()
    for thread in threads:
        thread.join(timeout=30)
    groups.close()

    assert sorted(answered) == sorted(wanted)
    assert transactions_of(stack, wanted) < len(wanted)


def test_a_writer_whose_connection_died_while_idle_places_the_next_bet_once(
        stack: Stack) -> None:
    groups = IntakeGroups(stack.context)
    first, second = refs(2)
    try:
        assert groups.place(parse_bet(bet_payload("sleepy", first))).created
        with stack.context.db.engine.connect() as killer:  # every writer's, this one's idle
            killed = killer.execute(text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE application_name = :name"), {"name": WRITER_NAME}).scalar_one()
        assert killed >= 1

        placed = groups.place(parse_bet(bet_payload("sleepy", second)))
    finally:
        groups.close()

    assert placed.created and placed.bet.bet_ref == second
    assert transactions_of(stack, [second]) == 1
