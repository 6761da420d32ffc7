"""Signatures bound to the request, on real HTTP over loopback: the simulator (provider,
wallet and game server) and the tests' receiver check method, request target, request
id and body, and answer with signatures bound to the request and the status.

Replayed and changed *answers* against the clients are in the bad-input corpus
(``tests/badinput/replay_cases.py``).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from decimal import Decimal

import pytest
import requests

from betguard.providers.base import ProviderStatus
from betguard.providers.client_settings import ProviderClientSettings
from betguard.providers.errors import NotificationFailed
from betguard.providers.generic import GenericHttpProvider
from betguard.providers.notifier import HttpNotifier
from betguard.providers.signing import (
    REQUEST_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Exchange,
    SignatureError,
    new_request_id,
    sign_request,
    verify_response,
)
from betguard.providers.wallet import HttpWallet, refund_idempotency_key
from tests.badinput.private_sim import PrivateSim, private_simulator
from tests.integration.receiver import Receiver

pytestmark = pytest.mark.integration

GAME_SERVER = "/_sim/game-server/notifications"
# Refs the simulator accepts whose path segment needs percent-encoding.
AWKWARD_REFS = ["100%", "\u00e9t\u00e9-\u20ac-\U0001f3b2", "a?b#c&d=e+f;g", "~tilde*star'(x)",
                "%2F-not-a-slash", "caf\u00e9%C3%A9"]


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateSim]:
    with private_simulator(tmp_path_factory.mktemp("signed-sim")) as running:
        yield running


def provider(sim: PrivateSim) -> GenericHttpProvider:
    settings = ProviderClientSettings(name="signed", base_url=sim.url,
                                      secret=sim.provider_secret, read_timeout=3.0)
    return GenericHttpProvider(settings, sleep=lambda _: None)


def register(sim: PrivateSim, ref: str, fate: str, **spec: str) -> str:
    sim.control("/_sim/bets", {"bet_ref": ref, "stake": "10.00", "currency": "EUR",
                               "fate": fate, **spec})
    return ref


def signed_call(sim: PrivateSim, exchange: Exchange, *, send_as: tuple[str, str] | None = None,
                headers: dict[str, str] | None = None) -> requests.Response:
    """Sign ``exchange`` (empty body), then send it as signed or ``send_as`` (method, target)."""
    method, target = send_as or (exchange.method, exchange.target)
    sent = {**sign_request(sim.provider_secret, exchange, b""), **(headers or {})}
    return requests.request(method, sim.url + target, headers=sent, timeout=5)


def cancelled(sim: PrivateSim, ref: str) -> bool:
    return bool(sim.control("/_sim/truth")["bets"][ref]["cancelled"])


# --- the request target is signed as sent -------------------------------------------


@pytest.mark.parametrize("awkward", AWKWARD_REFS)
def test_a_bet_ref_that_needs_percent_encoding_is_queried_and_cancelled_under_its_signature(
    sim: PrivateSim, awkward: str
) -> None:
    suffix = secrets.token_hex(4)
    settled = register(sim, f"{awkward}-s-{suffix}", "returned", payout="7.00")
    pending = register(sim, f"{awkward}-p-{suffix}", "never")
    client = provider(sim)

    answer = client.get_status(settled)
    outcome = client.cancel(pending)

    assert (answer.bet_ref, answer.status, answer.payout) == (
        settled, ProviderStatus.SETTLED, Decimal("7.00"))
    assert outcome.accepted and outcome.status.bet_ref == pending
    assert cancelled(sim, pending)


def test_the_wallet_refunds_under_a_signature_bound_to_its_request(sim: PrivateSim) -> None:
    ref = f"signed-{secrets.token_hex(6)}"
    wallet = HttpWallet(base_url=sim.url, secret=sim.wallet_secret, sleep=lambda _: None)
    key = refund_idempotency_key("signed", ref)
    receipt = wallet.refund(idempotency_key=key, provider="signed", bet_ref=ref,
                            amount=Decimal("10.00"), currency="EUR")
    assert sim.control("/_sim/truth")["refunds"][key]["refund_id"] == receipt.refund_id


# --- a signed request sent elsewhere ---------------------------------------------------


def test_a_signed_status_query_replayed_as_a_cancel_is_refused_and_cancels_nothing(
    sim: PrivateSim,
) -> None:
    ref = register(sim, f"signed-{secrets.token_hex(6)}", "never")
    query = Exchange(new_request_id(), "GET", f"/bets/{ref}")

    replayed = signed_call(sim, query, send_as=("POST", f"/bets/{ref}/cancel"))

    assert replayed.status_code == 401, replayed.text
    assert "does not match" in replayed.json()["error"]
    assert not cancelled(sim, ref)
    assert signed_call(sim, query).status_code == 200, "the same headers, sent as signed, pass"


def test_a_signed_query_about_one_bet_sent_about_another_is_refused(sim: PrivateSim) -> None:
    mine = register(sim, f"signed-{secrets.token_hex(6)}", "never")
    other = register(sim, f"signed-{secrets.token_hex(6)}", "returned", payout="7.00")
    query = Exchange(new_request_id(), "GET", f"/bets/{mine}")

    answer = signed_call(sim, query, send_as=("GET", f"/bets/{other}"))

    assert answer.status_code == 401, answer.text


def test_a_signed_cancel_with_a_query_string_added_is_refused(sim: PrivateSim) -> None:
    ref = register(sim, f"signed-{secrets.token_hex(6)}", "never")
    cancel = Exchange(new_request_id(), "POST", f"/bets/{ref}/cancel")

    answer = signed_call(sim, cancel, send_as=("POST", f"/bets/{ref}/cancel?force=1"))

    assert answer.status_code == 401, answer.text
    assert not cancelled(sim, ref)


# --- malformed signature headers ---------------------------------------------------


@pytest.mark.parametrize(
    ("header", "value", "words"),
    [
        (TIMESTAMP_HEADER, "9" * 5000, "malformed timestamp"),
        (TIMESTAMP_HEADER, "\u00b9\u00b2\u00b3", "malformed timestamp"),
        (REQUEST_ID_HEADER, "x" * 5000, "malformed request id"),
        (REQUEST_ID_HEADER, "short", "malformed request id"),
        (SIGNATURE_HEADER, "0" * 5000, "malformed signature"),
    ],
    ids=["timestamp of 5000 digits", "superscript timestamp", "request id of 5000 characters",
         "request id too short", "signature of 5000 characters"],
)
def test_a_request_with_a_malformed_signature_header_is_refused_401_and_never_a_500(
    sim: PrivateSim, header: str, value: str, words: str
) -> None:
    ref = register(sim, f"signed-{secrets.token_hex(6)}", "never")
    query = Exchange(new_request_id(), "GET", f"/bets/{ref}")
    raw = {header: value.encode("utf-8").decode("latin-1")}  # as the bytes go on the wire

    answer = signed_call(sim, query, headers=raw)

    assert answer.status_code == 401, answer.text
    assert words in answer.json()["error"]
    assert provider(sim).get_status(ref).status is ProviderStatus.PENDING, "the simulator lives on"


def test_a_request_without_a_request_id_is_refused_with_an_unsigned_answer(
    sim: PrivateSim,
) -> None:
    ref = register(sim, f"signed-{secrets.token_hex(6)}", "never")
    sent = sign_request(sim.provider_secret, Exchange(new_request_id(), "GET", f"/bets/{ref}"),
                        b"")
    del sent[REQUEST_ID_HEADER]

    answer = requests.get(f"{sim.url}/bets/{ref}", headers=sent, timeout=5)

    assert answer.status_code == 401
    assert "missing signature headers" in answer.json()["error"]
    assert SIGNATURE_HEADER not in answer.headers, "no request to bind a signature to"


# --- answers are bound to the request -------------------------------------------------


def test_an_answer_echoes_the_request_id_and_verifies_only_for_its_request_and_status(
    sim: PrivateSim,
) -> None:
    ref = register(sim, f"signed-{secrets.token_hex(6)}", "returned", payout="7.00")
    query = Exchange(new_request_id(), "GET", f"/bets/{ref}")

    answer = signed_call(sim, query)

    assert answer.headers[REQUEST_ID_HEADER] == query.request_id
    verify_response(sim.provider_secret, answer.headers, query, 200, answer.content)
    with pytest.raises(SignatureError):
        verify_response(sim.provider_secret, answer.headers, query, 404, answer.content)
    another_bet = Exchange(query.request_id, "GET", "/bets/someone-else")
    with pytest.raises(SignatureError):
        verify_response(sim.provider_secret, answer.headers, another_bet, 200, answer.content)


def test_a_refusal_is_signed_for_the_request_it_refuses(sim: PrivateSim) -> None:
    ref = register(sim, f"signed-{secrets.token_hex(6)}", "never")
    query = Exchange(new_request_id(), "GET", f"/bets/{ref}")

    answer = signed_call(sim, query, send_as=("GET", f"/bets/{ref}x"))

    assert answer.status_code == 401
    refused = Exchange(query.request_id, "GET", f"/bets/{ref}x")
    verify_response(sim.provider_secret, answer.headers, refused, 401, answer.content)


@pytest.mark.parametrize(
    "fault", ["bad_signature", "replayed_signature", "stale_signature", "missing_signature"])
def test_a_signature_fault_spoils_the_answer_for_its_own_request(
    sim: PrivateSim, fault: str
) -> None:
    ref = register(sim, f"signed-{secrets.token_hex(6)}", "returned", payout="7.00")
    sim.fault(fault, 1, bet_ref=ref)
    query = Exchange(new_request_id(), "GET", f"/bets/{ref}")

    spoiled = signed_call(sim, query)
    following = Exchange(new_request_id(), "GET", f"/bets/{ref}")
    genuine = signed_call(sim, following)

    with pytest.raises(SignatureError):
        verify_response(sim.provider_secret, spoiled.headers, query, 200, spoiled.content)
    assert spoiled.json()["payout"] == "7.00", "only the signature is spoiled"
    verify_response(sim.provider_secret, genuine.headers, following, 200, genuine.content)


# --- notifications -----------------------------------------------------------------


def notification(event_id: str) -> bytes:
    return json.dumps({"event_id": event_id, "bet_ref": f"signed-{event_id}",
                       "kind": "bet_settled"}).encode()


def test_the_game_server_accepts_a_signed_notification(sim: PrivateSim) -> None:
    event_id = secrets.token_hex(8)
    HttpNotifier(url=sim.url + GAME_SERVER, secret=sim.notify_secret).send(
        event_id, notification(event_id))
    report = sim.control(GAME_SERVER)
    assert report["events"][event_id]["deliveries"] == 1


@pytest.mark.parametrize("send_as", [("POST", GAME_SERVER + "?again=1"), ("PUT", GAME_SERVER)],
                         ids=["with a query added", "as a PUT"])
def test_the_game_server_refuses_a_signed_notification_sent_elsewhere(
    sim: PrivateSim, send_as: tuple[str, str]
) -> None:
    event_id = secrets.token_hex(8)
    body = notification(event_id)
    signed = sign_request(sim.notify_secret, Exchange(new_request_id(), "POST", GAME_SERVER), body)
    before = sim.control(GAME_SERVER)["bad_signatures"]

    answer = requests.request(send_as[0], sim.url + send_as[1], data=body, headers=signed,
                              timeout=5)

    assert answer.status_code in (401, 405), answer.text
    assert event_id not in sim.control(GAME_SERVER)["events"]
    if answer.status_code == 401:
        assert sim.control(GAME_SERVER)["bad_signatures"] == before + 1


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver(secrets.token_hex(16)).start()
    try:
        yield running
    finally:
        running.stop()


def test_the_receiver_accepts_a_signed_notification_and_refuses_it_at_another_target(
    receiver: Receiver,
) -> None:
    event_id = secrets.token_hex(8)
    body = notification(event_id)
    HttpNotifier(url=receiver.url, secret=receiver.secret).send(event_id, body)
    target = receiver.url.removeprefix(receiver.base_url)
    signed = sign_request(receiver.secret, Exchange(new_request_id(), "POST", target), body)

    elsewhere = requests.post(receiver.url + "?copy=1", data=body, headers=signed, timeout=5)

    assert [n["event_id"] for n in receiver.accepted] == [event_id]
    assert elsewhere.status_code == 401 and receiver.bad_signatures == 1


def test_a_notifier_with_the_wrong_secret_is_refused(receiver: Receiver) -> None:
    with pytest.raises(NotificationFailed, match="HTTP 401"):
        HttpNotifier(url=receiver.url, secret="not-" + receiver.secret).send(
            "e-1", notification("e-1"))
    assert receiver.accepted == [] and receiver.bad_signatures == 1
