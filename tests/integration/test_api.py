"""The HTTP API, served by the real ``betguard api`` process and spoken to over HTTP."""

from __future__ import annotations

import http.client
import secrets
import socket
import subprocess
from collections import Counter
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests
import schemathesis

from tests.integration.api_server import (
    BIN,
    Api,
    fields,
    free_port,
    new_ref,
    path_of,
    running_api,
    settle_leftovers,
)
from tests.integration.harness import Stack, bet_payload, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def api(stack: Stack) -> Iterator[Api]:
    with running_api(stack) as api:
        yield api
        settle_leftovers(api, stack)


def test_requests_without_a_valid_key_are_refused_with_a_bearer_challenge(api: Api) -> None:
    payload = bet_payload("patient", "no-key")

    answers = [api.call("POST", "/bets", json=payload),
               api.call("POST", "/bets", key="not-a-key", json=payload),
               api.call("GET", "/bets/patient/no-key", headers={"X-API-Key": "not-a-key"}),
               api.call("GET", "/reviews")]

    for answer in answers:
        assert answer.status_code == 401, answer.text
        assert answer.headers["WWW-Authenticate"] == "Bearer"
        assert answer.json() == {"error": "missing or unknown API key"}


def test_a_game_server_key_is_forbidden_the_ops_endpoints(api: Api) -> None:
    decision = {"resolution": "refunded", "note": "n"}

    answers = [api.game("GET", "/reviews"), api.game("POST", "/bets/sleepy/any/recheck"),
               api.game("POST", "/bets/sleepy/any/resolve", json=decision)]

    assert [a.status_code for a in answers] == [403, 403, 403]
    assert {a.json()["error"] for a in answers} == {"the game_server role may not do this"}


def test_a_bet_is_created_once_and_the_same_bet_again_returns_it(api: Api) -> None:
    payload = bet_payload("sleepy", new_ref(), stake="12.5")

    created = api.call("POST", "/bets", headers={"X-API-Key": api.game_key}, json=payload)
    again = api.game("POST", "/bets", json=payload)

    assert (created.status_code, again.status_code) == (201, 200)
    bet = created.json()["bet"]
    assert again.json()["bet"] == bet
    assert (bet["stake"], bet["payout"], bet["state"]) == ("12.50", None, "pending")
    assert set(bet) == {"id", "provider", "bet_ref", "player_id", "game_id", "round_id", "stake",
                        "currency", "state", "payout", "placed_at", "deadline", "next_check_at",
                        "check_attempt"}


def test_a_different_bet_under_a_known_reference_is_a_conflict_naming_the_fields(
    api: Api, stack: Stack,
) -> None:
    bet = api.place(stack, "sleepy")
    changed = {**bet_payload("sleepy", bet["bet_ref"]), "stake": "99.00", "player_id": "other"}

    answer = api.game("POST", "/bets", json=changed)

    assert (answer.status_code, answer.json()["fields"]) == (409, ["player_id", "stake"])
    assert api.game("GET", path_of(bet)).json()["bet"]["stake"] == "10.00"


def test_a_malformed_bet_is_refused_naming_each_bad_field(api: Api) -> None:
    ref = new_ref()
    payload = {**bet_payload("sleepy", ref), "stake": 10.5, "currency": "eur", "round_id": ""}
    answers = [
        api.game("POST", "/bets", json=payload),
        api.game("POST", "/bets", json=bet_payload("nobody", ref)),
        api.game("POST", "/bets", json={**bet_payload("sleepy", ref),
                                        "placed_at": "9999-12-31T23:59:59+00:00"}),
        api.game("POST", "/bets", data="{not json", headers={"Content-Type": "application/json"}),
        api.game("POST", "/bets", json=[1, 2]),
        api.game("POST", "/bets", json={"bets": "many"}),
    ]

    assert [(a.status_code, fields(a)) for a in answers] == [
        (422, {"stake", "currency", "round_id"}), (422, {"provider"}), (422, {"placed_at"}),
        (422, {"(body)"}), (422, {"(body)"}), (422, {"bets"})]
    assert "stake" in answers[0].json()["error"]
    assert api.game("GET", f"/bets/sleepy/{ref}").status_code == 404


def test_a_body_over_the_size_limit_is_refused_before_it_is_parsed(api: Api) -> None:
    big = b'{"bets": [' + b'"x",' * 300_000 + b'"x"]}'
    json_type = {"Content-Type": "application/json"}

    declared = api.game("POST", "/bets", data=big, headers=json_type)
    streamed = api.game("POST", "/bets", data=iter([big[:600_000], big[600_000:]]),
                        headers=json_type)  # chunked: no Content-Length to go by

    assert (declared.status_code, streamed.status_code) == (413, 413)
    assert "over 1000000 bytes" in declared.json()["error"]


def test_a_plain_client_posting_two_megabytes_reads_the_413_every_time(api: Api) -> None:
    big = b'{"bets": [' + b'"x",' * 500_000 + b'"x"]}'
    headers = {"Authorization": f"Bearer {api.game_key}", "Content-Type": "application/json"}

    def outcome(body: bytes | Iterator[bytes]) -> str:
        try:  # a new connection each time, as an ordinary client without a session has
            answer = requests.post(api.url + "/bets", data=body, headers=headers, timeout=30)
        except requests.ConnectionError as exc:
            return f"{type(exc).__name__}: {exc}"[:200]
        return str(answer.status_code)

    declared = Counter(outcome(big) for _ in range(50))
    streamed = Counter(outcome(iter([big[:1_000_000], big[1_000_000:]])) for _ in range(10))

    assert (declared, streamed) == (Counter({"413": 50}), Counter({"413": 10}))


def test_a_client_that_sends_the_whole_body_before_reading_gets_the_413_not_a_broken_pipe(
    api: Api,
) -> None:
    big = b"[" + b"0," * 1_000_000 + b"0]"
    headers = {"Authorization": f"Bearer {api.game_key}", "Content-Type": "application/json"}
    host, port = urlsplit(api.url).hostname, urlsplit(api.url).port

    def post() -> int:
        connection = http.client.HTTPConnection(host or "", port, timeout=30)
        try:  # the standard library's client raises a send error as it is, unlike urllib3
            connection.request("POST", "/bets", body=big, headers=headers)
            return connection.getresponse().status
        finally:
            connection.close()

    assert Counter(post() for _ in range(50)) == Counter({413: 50})


def test_a_client_waiting_for_100_continue_gets_the_413_at_once_without_sending_the_body(
    api: Api,
) -> None:
    host, port = urlsplit(api.url).hostname, urlsplit(api.url).port
    head = (f"POST /bets HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {api.game_key}\r\n"
            "Content-Type: application/json\r\nContent-Length: 2000000\r\n"
            "Expect: 100-continue\r\n\r\n")

    with socket.create_connection((host or "", port or 0), timeout=5) as client:
        client.sendall(head.encode())
        answer = client.makefile("rb").read()  # to the server's close: no body is awaited

    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert b"connection: close" in answer.lower() and b"100 Continue" not in answer


def test_a_bet_ref_with_slashes_is_read_whole_and_never_taken_for_an_action(api: Api) -> None:
    ref = new_ref() + "/table-7/round"
    placed = api.game("POST", "/bets", json=bet_payload("sleepy", ref))
    named_an_action = [api.game("POST", "/bets", json=bet_payload("sleepy", f"{ref}/{action}"))
                       for action in ("result", "resolve", "recheck")]

    read = [api.game("GET", f"/bets/sleepy/{r}") for r in (ref, ref.replace("/", "%2F"))]
    actions = {(method, action): api.ops(method, f"/bets/sleepy/{ref}/{action}")
               for method in ("GET", "PUT", "OPTIONS") for action in ("result", "resolve",
                                                                    "recheck")}
    on_the_bet = api.ops("PUT", f"/bets/sleepy/{ref}")

    assert placed.status_code == 201, placed.text
    assert [(a.status_code, fields(a)) for a in named_an_action] == [(422, {"bet_ref"})] * 3
    assert "must not end in '/recheck'" in named_an_action[2].json()["error"]
    assert [(r.status_code, r.json()["bet"]["bet_ref"]) for r in read] == [(200, ref)] * 2
    assert {key: (a.status_code, a.headers.get("Allow")) for key, a in actions.items()} == {
        key: (405, "POST") for key in actions}
    assert (on_the_bet.status_code, on_the_bet.headers["Allow"]) == (405, "GET")


def test_a_batch_answers_each_item_on_its_own_and_writes_no_invalid_item(
    api: Api, stack: Stack,
) -> None:
    known = api.place(stack, "sleepy")
    new, bad = bet_payload("sleepy", new_ref()), bet_payload("sleepy", new_ref())
    items = [new, bet_payload("sleepy", known["bet_ref"]),
             {**bet_payload("sleepy", known["bet_ref"]), "stake": "1.00"},
             {**bad, "stake": "-1"}, {**bet_payload("nobody", "x"), "extra": 1}, "a string"]

    answer = api.game("POST", "/bets", json={"bets": items})

    results = answer.json()["results"]
    assert [(r["index"], r["status"]) for r in results] == [
        (0, "created"), (1, "exists"), (2, "conflict"), (3, "invalid"), (4, "invalid"),
        (5, "invalid")]
    assert results[1]["bet"] == api.game("GET", path_of(known)).json()["bet"]
    assert results[2]["fields"] == ["stake"]
    assert [[p["field"] for p in r["problems"]] for r in results[3:]] == [
        ["stake"], ["extra"], ["(body)"]]
    assert api.game("GET", f"/bets/sleepy/{new['bet_ref']}").status_code == 200
    assert api.game("GET", f"/bets/sleepy/{bad['bet_ref']}").status_code == 404
    too_many = api.game("POST", "/bets", json={"bets": [{}] * 1001})
    assert (too_many.status_code, fields(too_many)) == (422, {"bets"})


def test_a_reported_result_settles_a_pending_bet_and_names_the_game_server(api: Api) -> None:
    ref = f"api/{secrets.token_hex(6)}"  # a reference may hold a slash: the path still works
    assert api.game("POST", "/bets", json=bet_payload("sleepy", ref)).status_code == 201
    result = {"payout": "12.5", "currency": "EUR"}

    answer = api.game("POST", f"/bets/sleepy/{ref}/result", json=result)
    again = api.game("POST", f"/bets/sleepy/{ref}/result", json=result)

    assert answer.status_code == 200
    assert answer.json()["outcome"] == "settled"
    assert answer.json()["bet"]["bet_ref"] == ref
    assert (answer.json()["bet"]["state"], answer.json()["bet"]["payout"]) == ("settled", "12.50")
    assert again.json()["outcome"] == "already_settled"
    history = api.game("GET", f"/bets/sleepy/{ref}").json()["history"]
    assert [e["kind"] for e in history] == ["bet_placed", "result_reported", "bet_settled"]
    assert history[1]["actor"] == "game-server:table-7"


def test_a_reported_cancel_refunds_a_pending_bet_once_and_a_settled_one_gets_a_conflict(
        api: Api, stack: Stack) -> None:
    pending, settled = api.place(stack, "sleepy"), api.place(stack, "sleepy")
    api.game("POST", path_of(settled, "result"), json={"payout": "3.00", "currency": "EUR"})

    answer = api.game("POST", path_of(pending, "cancelled"))
    again = api.game("POST", path_of(pending, "cancelled"))
    late = api.game("POST", path_of(settled, "cancelled"))

    assert (answer.status_code, answer.json()["outcome"]) == (200, "refunding")
    assert again.json()["outcome"] == "already_refunded"
    story = api.wait_for_state(pending, "refunded")
    assert story["history"][1]["actor"] == "game-server:table-7"
    refunds = [r for r in stack.truth()["refunds"].values()
               if r["bet_ref"] == pending["bet_ref"]]
    assert len(refunds) == 1
    assert (late.json()["outcome"], late.json()["bet"]["state"]) == ("conflict", "settled")
    assert [r.reason for r in stack.reviews(settled["id"])] == ["conflict"]


def test_a_bad_result_names_the_field_and_an_unknown_bet_is_not_found(
    api: Api, stack: Stack,
) -> None:
    bet = api.place(stack, "sleepy")
    bodies = [{"payout": "abc", "currency": "EUR"}, {"payout": "1.00", "currency": "eur"},
              {"payout": 12.5, "currency": "EUR"}, {"payout": "1.00", "currency": "USD"}]

    answers = [api.game("POST", path_of(bet, "result"), json=body) for body in bodies]
    missing = api.game("POST", "/bets/sleepy/no-such-bet/result",
                       json={"payout": "1.00", "currency": "EUR"})

    assert [(a.status_code, fields(a)) for a in answers] == [
        (422, {"payout"}), (422, {"currency"}), (422, {"payout"}), (409, {"currency"})]
    assert (missing.status_code, api.game("GET", "/bets/sleepy/no-such-bet").status_code) == (
        404, 404)
    assert api.game("GET", path_of(bet)).json()["bet"]["state"] == "pending"


def test_an_operator_resolution_is_recorded_under_the_key_name(api: Api, stack: Stack) -> None:
    bet = api.place(stack, "reviewer", fate="never")
    api.wait_for_state(bet, "in_review")
    queue = api.ops("GET", "/reviews", params={"reason": "deadline"}).json()["reviews"]
    assert bet["bet_ref"] in [r["bet"]["bet_ref"] for r in queue]
    no_payout = api.ops("POST", path_of(bet, "resolve"),
                        json={"resolution": "settled", "note": "support confirmed"})
    unknown = api.ops("POST", path_of(bet, "resolve"), json={"resolution": "maybe", "note": "?"})

    answer = api.ops("POST", path_of(bet, "resolve"), json={
        "resolution": "settled", "note": "support confirmed", "payout": "40.00"})

    assert [(a.status_code, fields(a)) for a in (no_payout, unknown)] == [
        (422, {"payout"}), (422, {"resolution"})]
    assert (answer.status_code, answer.json()["bet"]["payout"]) == (200, "40.00")
    story = api.game("GET", path_of(bet)).json()
    resolved = next(e for e in story["history"] if e["kind"] == "review_resolved")
    assert (story["bet"]["state"], resolved["actor"]) == ("settled", "operator:alice")
    [review] = story["reviews"]
    assert (review["operator"], review["resolution"], review["note"]) == (
        "alice", "settled", "support confirmed")
    open_ids = [r["id"] for r in api.ops("GET", "/reviews").json()["reviews"]]
    all_ids = [r["id"] for r in api.ops("GET", "/reviews?state=all&limit=1000").json()["reviews"]]
    assert review["id"] not in open_ids and review["id"] in all_ids
    again = api.ops("POST", path_of(bet, "resolve"), json={"resolution": "refunded", "note": "x"})
    assert again.status_code == 409


def test_a_nul_in_an_operators_free_text_is_refused_naming_the_field(
    api: Api, stack: Stack,
) -> None:
    bet = api.place(stack, "reviewer", fate="never")
    api.wait_for_state(bet, "in_review")

    note = api.ops("POST", path_of(bet, "resolve"),
                   json={"resolution": "refunded", "note": "paid\x00back"})
    reference = api.ops("POST", path_of(bet, "resolve"), json={
        "resolution": "refunded_outside", "note": "bank", "reference": "TX\x001"})

    assert (note.status_code, fields(note)) == (422, {"note"})
    assert "NUL" in note.json()["error"]
    assert (reference.status_code, fields(reference)) == (422, {"reference"})
    story = api.game("GET", path_of(bet)).json()
    assert story["bet"]["state"] == "in_review"
    assert [r["resolved_at"] for r in story["reviews"]] == [None]


def test_an_operator_recheck_is_accepted_for_a_pending_bet_only(api: Api, stack: Stack) -> None:
    bet = api.place(stack, "sleepy")

    answer = api.ops("POST", path_of(bet, "recheck"))

    assert (answer.status_code, answer.json()["bet"]["bet_ref"]) == (202, bet["bet_ref"])
    ordered = next(e for e in api.ops("GET", path_of(bet)).json()["history"]
                   if e["kind"] == "recheck_ordered")
    assert ordered["actor"] == "operator:alice"
    api.game("POST", path_of(bet, "result"), json={"payout": "1.00", "currency": "EUR"})
    assert api.ops("POST", path_of(bet, "recheck")).status_code == 409
    assert api.ops("POST", "/bets/sleepy/no-such-bet/recheck").status_code == 404


def test_a_bet_placed_over_http_is_checked_escalated_and_refunded(api: Api, stack: Stack) -> None:
    receiver = stack.receiver
    assert receiver is not None
    receiver.fail_next = 2  # the game server's first deliveries fail
    bet = api.place(stack, "refunder", fate="never", stake="12.50")

    story = api.wait_for_state(bet, "refunded")
    wait_until(lambda: receiver.for_bet(bet["bet_ref"]), 30)

    [told] = receiver.for_bet(bet["bet_ref"])
    assert receiver.deliveries_per_event(bet["bet_ref"]) == {told["event_id"]: 1}
    assert told["event"] == "bet_refunded" and receiver.bad_signatures == 0

    kinds = [e["kind"] for e in story["history"]]
    assert kinds[0] == "bet_placed" and "check_started" in kinds
    assert kinds.index("cancel_answered") < kinds.index("refund_decided") < kinds.index(
        "bet_refunded")
    refunds = [r for r in stack.truth()["refunds"].values() if r["bet_ref"] == bet["bet_ref"]]
    assert [r["amount"] for r in refunds] == ["12.50"]


def test_the_openapi_document_is_valid_and_health_metrics_and_docs_need_no_key(
    api: Api, stack: Stack,
) -> None:
    schema = schemathesis.openapi.from_url(api.url + "/openapi.json")
    document = requests.get(api.url + "/openapi.json", timeout=10).json()
    body = document["paths"]["/bets"]["post"]["requestBody"]["content"]["application/json"]

    schema.validate()

    single, batch = body["schema"]["oneOf"]
    assert single["properties"]["provider"]["enum"] == sorted(stack.context.policies)
    assert batch["properties"]["bets"]["items"]["anyOf"][0] == single

    assert set(requests.get(api.url + "/openapi.json", timeout=10).json()["paths"]) == {
        "/bets", "/bets/{provider}/{bet_ref}", "/bets/{provider}/{bet_ref}/result",
        "/bets/{provider}/{bet_ref}/cancelled", "/bets/{provider}/{bet_ref}/resolve",
        "/bets/{provider}/{bet_ref}/recheck",
        "/reviews", "/proposals", "/proposals/{proposal_id}/approve",
        "/proposals/{proposal_id}/reject", "/healthz"}
    assert api.call("GET", "/healthz").json() == {"status": "ok"}
    assert [api.call("GET", p).status_code for p in ("/metrics", "/docs")] == [200, 200]
    assert api.call("GET", "/no-such-page").json() == {"error": "Not Found"}


def test_the_api_refuses_to_start_without_keys(stack: Stack) -> None:
    run = subprocess.run([str(BIN / "betguard"), "api", "--port", str(free_port())],
                         env={**stack.env, "BETGUARD_API_KEYS": "[]"}, capture_output=True,
                         text=True, timeout=60, check=False)

    assert run.returncode == 1
    assert run.stderr.startswith("error: no API keys") and run.stderr.count("\n") == 1
