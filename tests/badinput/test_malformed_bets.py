"""Every malformed bet, through each of the three intakes — a Python call, the Celery
task on a real worker, ``POST /bets`` on the real API — is refused with an error that
names the bad field, and leaves no trace: no bet under its reference."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from betguard.models.domain.errors import InvalidBet, UnknownProvider
from betguard.models.domain.states import BetState
from betguard.models.store.tables import Bet
from betguard.services.intake import place_bet
from betguard.services.results import report_result
from betguard.tasks import bets as bet_tasks  # the module: collection must not touch the task
from tests.badinput.bet_cases import (
    CASES,
    NOT_AN_OBJECT,
    PROVIDER,
    BetCase,
    Payload,
)
from tests.integration.api_server import Api
from tests.integration.harness import Stack, bet_payload

pytestmark = pytest.mark.integration

TASK_TIMEOUT = 30.0
CASE_PARAMS = [case.param() for case in CASES]


@pytest.fixture
def valid(stack: Stack) -> Iterator[Payload]:
    """A valid bet under a fresh reference; any bet wrongly written under it is settled
    afterwards, so that no check or refund of it disturbs later tests."""
    payload = bet_payload(PROVIDER, f"bad-{secrets.token_hex(6)}")
    yield payload
    for bet in written(stack, {payload["bet_ref"]}):
        if bet.state == BetState.PENDING.value:
            report_result(stack.context, bet.provider, bet.bet_ref, payout="0", currency="EUR")


def written(stack: Stack, refs: set[str]) -> list[Bet]:
    # PostgreSQL cannot hold a NUL in text, so no bet can exist under such a reference.
    storable = [ref for ref in refs if "\x00" not in ref]
    with stack.context.db.unit_of_work() as session:
        bets = list(session.scalars(select(Bet).where(Bet.bet_ref.in_(storable))))
        session.expunge_all()
        return bets


def assert_nothing_written(stack: Stack, case: BetCase, valid: Payload) -> None:
    assert written(stack, case.refs(valid)) == [], f"{case.name}: a bet was written"


@pytest.mark.parametrize("case", CASE_PARAMS)
def test_a_malformed_bet_placed_by_a_python_call_is_refused_naming_the_field(
    stack: Stack, valid: Payload, case: BetCase
) -> None:
    with pytest.raises((InvalidBet, UnknownProvider)) as refused:
        place_bet(stack.context, case.payload(valid))

    error = refused.value
    if isinstance(error, InvalidBet):
        assert set(error.fields) == case.fields, str(error)
    else:
        assert case.fields == {"provider"} and "unknown provider" in str(error), str(error)
    assert_nothing_written(stack, case, valid)


@pytest.mark.parametrize("case", CASE_PARAMS)
def test_a_malformed_bet_sent_to_the_celery_task_is_answered_rejected_naming_the_field(
    stack: Stack, valid: Payload, case: BetCase
) -> None:
    answer = bet_tasks.place.delay(case.payload(valid)).get(timeout=TASK_TIMEOUT)

    assert answer["status"] == "rejected", answer
    assert set(answer["fields"]) == case.fields, answer
    assert_nothing_written(stack, case, valid)


@pytest.mark.parametrize("case", CASE_PARAMS)
def test_a_malformed_bet_posted_to_the_api_is_answered_422_naming_the_field(
    stack: Stack, api: Api, valid: Payload, case: BetCase
) -> None:
    body = json.dumps(case.payload(valid))  # NaN and Infinity as Python writes them

    answer = api.game("POST", "/bets", data=body, headers={"Content-Type": "application/json"})

    assert answer.status_code == 422, answer.text
    assert {p["field"] for p in answer.json()["problems"]} == case.fields, answer.text
    assert_nothing_written(stack, case, valid)


@pytest.mark.parametrize("body", NOT_AN_OBJECT.values(), ids=NOT_AN_OBJECT.keys())
def test_a_bet_that_is_not_an_object_is_refused_by_the_python_call_and_the_task(
    stack: Stack, body: object
) -> None:
    with pytest.raises(InvalidBet) as refused:
        place_bet(stack.context, body)  # type: ignore[arg-type]
    answer = bet_tasks.place.delay(body).get(timeout=TASK_TIMEOUT)

    assert refused.value.fields == ["(body)"]
    assert (answer["status"], answer["fields"]) == ("rejected", ["(body)"])
