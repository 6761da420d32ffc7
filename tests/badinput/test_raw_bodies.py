"""Request bodies that are not a bet at all, posted to the real API: each is refused
with a JSON error about the body (413 when too large), never a 5xx, and no bet is
written; the API answers normally afterwards."""

from __future__ import annotations

import secrets

import pytest
import requests

from tests.badinput.bet_cases import PROVIDER
from tests.badinput.raw_cases import BODY_LIMIT, RAW_BODIES, RawBody
from tests.integration.api_server import Api
from tests.integration.harness import Stack

pytestmark = pytest.mark.integration

def post(api: Api, case: RawBody, ref: str) -> requests.Response:
    headers = {"Content-Type": case.content_type} if case.content_type else {}
    return api.game("POST", "/bets", data=case.body(ref), headers=headers)


def assert_not_written(api: Api, ref: str) -> None:
    assert api.game("GET", f"/bets/{PROVIDER}/{ref}").status_code == 404, "no bet was written"


@pytest.mark.parametrize("case", RAW_BODIES, ids=[case.name for case in RAW_BODIES])
def test_a_body_that_is_not_a_bet_gets_a_json_refusal_and_never_a_server_error(
    stack: Stack, api: Api, case: RawBody
) -> None:
    ref = f"raw-{secrets.token_hex(6)}"

    answer = post(api, case, ref)

    assert 400 <= answer.status_code < 500, answer.text
    assert isinstance(answer.json()["error"], str) and answer.json()["error"]
    assert_not_written(api, ref)
    assert api.call("GET", "/healthz").status_code == 200


@pytest.mark.parametrize("case", [case.param() for case in RAW_BODIES])
def test_a_body_that_is_not_a_bet_is_refused_with_the_designed_status_naming_the_problem(
    api: Api, case: RawBody
) -> None:
    ref = f"raw-{secrets.token_hex(6)}"

    answer = post(api, case, ref)

    assert answer.status_code == case.status, answer.text
    if case.status == 413:
        assert f"over {BODY_LIMIT} bytes" in answer.json()["error"]
    else:
        found = {p["field"] for p in answer.json()["problems"]}
        assert found and found <= case.fields, answer.text
    assert_not_written(api, ref)
