"""Provider and wallet answers are believed only when they are well-formed and signed.

No network: bodies are parsed directly, and the HTTP client runs against an
in-memory transport adapter mounted on a real ``requests.Session``.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import requests
from requests.adapters import BaseAdapter

from betguard.providers import signing
from betguard.providers.base import BetStatus, ProviderStatus
from betguard.providers.client_settings import ProviderClientSettings
from betguard.providers.errors import (
    ProviderInvalidResponse,
    ProviderRejected,
    ProviderUnavailable,
    WalletRejected,
    WalletUnavailable,
)
from betguard.providers.generic import GenericHttpProvider, parse_status, parse_statuses
from betguard.providers.registry import build_provider
from betguard.providers.transport import MAX_RESPONSE_BYTES
from betguard.providers.wallet import HttpWallet, refund_idempotency_key

SECRET = "unit-secret"
SETTLED = {
    "bet_ref": "b-1",
    "status": "settled",
    "payout": "120.50",
    "currency": "EUR",
    "settled_at": "2024-05-01T12:00:00Z",
}


def body(**changes: Any) -> bytes:
    data = {**SETTLED, **changes}
    return json.dumps({k: v for k, v in data.items() if v is not ...}).encode()


# --- one status ------------------------------------------------------------


def test_a_settled_answer_parses_to_the_providers_result() -> None:
    status = parse_status(body(), bet_ref="b-1")
    assert status == BetStatus(
        bet_ref="b-1",
        status=ProviderStatus.SETTLED,
        payout=Decimal("120.50"),
        currency="EUR",
        settled_at=datetime(2024, 5, 1, 12, tzinfo=UTC),
    )


def test_a_pending_answer_may_leave_out_payout_currency_and_time() -> None:
    raw = json.dumps({"bet_ref": "b-1", "status": "pending", "payout": None}).encode()
    assert parse_status(raw, bet_ref="b-1") == BetStatus("b-1", ProviderStatus.PENDING)


@pytest.mark.parametrize(
    ("payout", "expected"), [(0, "0"), (12.5, "12.5"), ("999999999999.9999", "999999999999.9999")]
)
def test_a_payout_may_be_a_number_or_a_decimal_string(payout: object, expected: str) -> None:
    assert parse_status(body(payout=payout), bet_ref="b-1").payout == Decimal(expected)


def test_unknown_extra_keys_are_ignored() -> None:
    assert parse_status(body(odds="2.5", meta={"x": 1}), bet_ref="b-1").status == "settled"


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b"<html>502 Bad Gateway</html>", "body"),
        (b"[1, 2]", "body"),
        (body(status=...), "status"),
        (body(status="won"), "status"),
        (body(status=42), "status"),
        (body(bet_ref=7), "bet_ref"),
        (body(bet_ref="b-2"), "bet_ref"),
        (body(payout="-1.00"), "payout"),
        (body(payout="1.23456"), "payout"),
        (body(payout=1.23456), "payout"),
        (body(payout="1e3"), "payout"),
        (body(payout=" 10"), "payout"),
        (body(payout="1000000000000"), "payout"),
        (body(payout=10**12), "payout"),
        (body(payout=True), "payout"),
        (body(payout=[1]), "payout"),
        (body(payout=None), "payout"),
        (body(currency="eur"), "currency"),
        (body(currency=978), "currency"),
        (body(currency=None), "currency"),
        (body(settled_at="2024-05-01T12:00:00"), "settled_at"),
        (body(settled_at="yesterday"), "settled_at"),
        (body(settled_at=1714564800), "settled_at"),
    ],
)
def test_a_malformed_answer_is_invalid_and_names_the_field_and_the_bet(
    raw: bytes, field: str
) -> None:
    with pytest.raises(ProviderInvalidResponse, match=field) as caught:
        parse_status(raw, bet_ref="b-1", provider="acme")
    assert "'b-1'" in str(caught.value)
    assert "acme" in str(caught.value)


def raw_payout(text: str) -> bytes:
    """A settled answer whose payout is ``text`` exactly as it travels (a JSON value)."""
    return (b'{"bet_ref": "b-1", "status": "settled", "currency": "EUR", "payout": '
            + text.encode() + b"}")


@pytest.mark.parametrize(
    "payout",
    [
        '"\u0663.\u0660\u0660"',  # Arabic-Indic digits, which Decimal() reads as 3.00
        '"\u06f1\u06f2"',  # Extended Arabic-Indic digits
        '"\uff11\uff12.50"',  # fullwidth digits
        '"\u0967\u0966"',  # Devanagari digits
        '"1\u0662.00"',  # one foreign digit among ASCII ones
        '"-0.00"',  # negative zero, as a string
        '"-0"',
        "-0.0",  # negative zero, as a JSON number
        "-0.00",
        "-0e0",
        '"+12.50"',  # any sign
        "-1",
        "-12.5",
    ],
)
def test_a_payout_with_foreign_digits_or_any_sign_is_invalid(payout: str) -> None:
    with pytest.raises(ProviderInvalidResponse, match="payout") as caught:
        parse_status(raw_payout(payout), bet_ref="b-1", provider="acme")
    assert "'b-1'" in str(caught.value)


@pytest.mark.parametrize(("payout", "expected"), [("0", "0"), ("0.0", "0.0"), ('"0.00"', "0.00")])
def test_a_plain_zero_payout_is_a_lost_bet_not_a_signed_one(payout: str, expected: str) -> None:
    paid = parse_status(raw_payout(payout), bet_ref="b-1").payout
    assert paid == Decimal(expected) and paid is not None and not paid.is_signed()


def test_a_foreign_digit_payout_in_a_batch_is_invalid_for_that_bet() -> None:
    foreign = {**SETTLED, "payout": "\u0663.00"}
    with pytest.raises(ProviderInvalidResponse, match="bets.0.payout"):
        parse_statuses(batch([foreign], []), bet_refs=["b-1"])


# --- batches -----------------------------------------------------------------


def batch(bets: list[dict[str, Any]], unknown: list[str]) -> bytes:
    return json.dumps({"bets": bets, "unknown": unknown}).encode()


def test_a_batch_answers_every_requested_bet_including_unknown_ones() -> None:
    pending = {"bet_ref": "b-2", "status": "pending"}
    answers = parse_statuses(batch([SETTLED, pending], ["b-3"]), bet_refs=["b-1", "b-2", "b-3"])
    assert {ref: s.status for ref, s in answers.items()} == {
        "b-1": ProviderStatus.SETTLED,
        "b-2": ProviderStatus.PENDING,
        "b-3": ProviderStatus.UNKNOWN,
    }


@pytest.mark.parametrize(
    ("raw", "field", "ref"),
    [
        (batch([SETTLED], []), "bets", "b-2"),
        (batch([SETTLED], ["b-2", "b-9"]), "bet_ref", "b-9"),
        (batch([SETTLED, SETTLED], ["b-2"]), "bet_ref", "b-1"),
        (batch([{**SETTLED, "payout": "-1"}], ["b-2"]), "bets.0.payout", "b-1"),
        (b'{"unknown": []}', "bets", "b-1"),
    ],
)
def test_a_batch_that_misses_adds_or_repeats_a_bet_is_invalid(
    raw: bytes, field: str, ref: str
) -> None:
    with pytest.raises(ProviderInvalidResponse, match=field) as caught:
        parse_statuses(raw, bet_refs=["b-1", "b-2"])
    assert ref in str(caught.value)


# --- the idempotency key and the registry --------------------------------------


def test_the_refund_key_is_stable_and_belongs_to_one_bet() -> None:
    key = refund_idempotency_key("acme", "b-1")
    assert key == refund_idempotency_key("acme", "b-1")
    assert key.startswith("refund:") and len(key) == len("refund:") + 32
    others = {
        refund_idempotency_key("acme", "b-2"),
        refund_idempotency_key("other", "b-1"),
        refund_idempotency_key("acm", "eb-1"),
    }
    assert key not in others and len(others) == 3


def test_the_registry_builds_a_generic_provider() -> None:
    provider = build_provider("generic", ProviderClientSettings("acme", "http://x", SECRET))
    assert isinstance(provider, GenericHttpProvider)
    assert provider.name == "acme" and provider.supports_batch is False


def test_an_unknown_provider_kind_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"'fancy'.*generic"):
        build_provider("fancy", ProviderClientSettings("acme", "http://x", SECRET))


# --- the HTTP client, on an in-memory transport --------------------------------

Headers = dict[str, str]
# Canned headers, or how to sign the answer once the request it answers is known.
Reply = tuple[int, bytes, Headers | Callable[[requests.PreparedRequest], Headers]]


class CannedAdapter(BaseAdapter):
    """Answers each request with the next canned reply and remembers the requests."""

    def __init__(self, replies: list[Reply]) -> None:
        super().__init__()
        self.replies = replies
        self.requests: list[requests.PreparedRequest] = []

    def send(
        self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
    ) -> requests.Response:
        self.requests.append(request)
        status, content, headers = self.replies.pop(0)
        response = requests.Response()
        response.status_code, response.raw, response.request = status, io.BytesIO(content), request
        response.headers.update(headers(request) if callable(headers) else headers)
        return response

    def close(self) -> None:
        pass


def exchange_of(request: requests.PreparedRequest) -> signing.Exchange:
    request_id = request.headers[signing.REQUEST_ID_HEADER]
    return signing.Exchange(request_id, str(request.method), request.path_url)


def signed(status: int, content: bytes, secret: str = SECRET, *, now: float | None = None,
           as_status: int | None = None, as_body: bytes | None = None,
           as_target: str | None = None) -> Reply:
    """An answer signed for the request it answers (or, with ``as_*``, for something else)."""

    def sign_for(request: requests.PreparedRequest) -> Headers:
        exchange = exchange_of(request)
        if as_target is not None:
            exchange = signing.Exchange(exchange.request_id, exchange.method, as_target)
        return signing.sign_response(
            secret, exchange, status if as_status is None else as_status,
            content if as_body is None else as_body, now=now)

    return status, content, sign_for


def answer_to_another_request(status: int, content: bytes) -> Reply:
    other = signing.Exchange(signing.new_request_id(), "GET", "/bets/b-1")
    return status, content, signing.sign_response(SECRET, other, status, content)


def fake(replies: list[Reply]) -> tuple[requests.Session, CannedAdapter]:
    session, adapter = requests.Session(), CannedAdapter(replies)
    session.mount("http://", adapter)
    return session, adapter


def provider_on(
    replies: list[Reply], sleeps: list[float] | None = None
) -> tuple[GenericHttpProvider, CannedAdapter]:
    session, adapter = fake(replies)
    record: Callable[[float], None] = (sleeps if sleeps is not None else []).append
    settings = ProviderClientSettings(name="acme", base_url="http://p", secret=SECRET)
    return GenericHttpProvider(settings, session=session, sleep=record), adapter


def test_requests_are_signed_and_refs_are_quoted_as_one_path_segment() -> None:
    provider, adapter = provider_on([signed(404, b"")])
    assert provider.get_status("a/b?c").status is ProviderStatus.UNKNOWN
    sent = adapter.requests[0]
    assert sent.path_url == "/bets/a%2Fb%3Fc"
    headers = {k: str(v) for k, v in sent.headers.items()}
    signing.verify_request(SECRET, headers, method="GET", target=sent.path_url, body=b"")


def test_a_5xx_is_retried_briefly_and_the_later_answer_is_used() -> None:
    sleeps: list[float] = []
    provider, adapter = provider_on([(503, b"", {}), signed(200, body())], sleeps)
    assert provider.get_status("b-1").payout == Decimal("120.50")
    assert len(adapter.requests) == 2
    assert len(sleeps) == 1 and 0.1 <= sleeps[0] <= 1.0


def test_repeated_5xx_gives_up_as_unavailable_after_the_attempts() -> None:
    sleeps: list[float] = []
    provider, adapter = provider_on([(503, b"", {})] * 3, sleeps)
    with pytest.raises(ProviderUnavailable, match="503"):
        provider.get_status("b-1")
    assert len(adapter.requests) == 3 and max(sleeps) <= 1.0


def test_a_4xx_is_rejected_at_once_without_retrying() -> None:
    provider, adapter = provider_on([signed(403, b'{"error":"forbidden"}')])
    with pytest.raises(ProviderRejected, match="forbidden"):
        provider.get_status("b-1")
    assert len(adapter.requests) == 1


@pytest.mark.parametrize(
    "reply",
    [
        (200, body(), {}),
        signed(200, body(), secret="someone-else"),
        signed(200, body(), now=0),
        signed(404, b"tampered", as_body=b""),  # signed for another body
        signed(404, b"", as_status=200),  # a 200's signature on a 404
        signed(404, b"", as_target="/bets/b-2"),  # a 404 about another bet
        answer_to_another_request(404, b""),
    ],
    ids=["unsigned", "another secret", "stale", "another body", "another status",
         "another bet", "another request"],
)
def test_an_unsigned_forged_or_stale_answer_is_invalid(reply: Reply) -> None:
    provider, _ = provider_on([reply])
    with pytest.raises(ProviderInvalidResponse, match="untrusted"):
        provider.get_status("b-1")


def test_an_oversized_answer_is_invalid() -> None:
    huge = b" " * (MAX_RESPONSE_BYTES + 1)
    provider, _ = provider_on([signed(200, huge)])
    with pytest.raises(ProviderInvalidResponse, match="exceeds"):
        provider.get_status("b-1")


def test_a_cancel_answered_cancelled_fences_the_bet_even_one_the_provider_did_not_know() -> None:
    tombstone = json.dumps({"bet_ref": "b-1", "status": "cancelled", "payout": None,
                            "currency": None, "settled_at": None}).encode()
    provider, _ = provider_on([signed(200, tombstone)])
    outcome = provider.cancel("b-1")
    assert outcome.accepted and outcome.status.status is ProviderStatus.CANCELLED


def test_a_cancel_answered_404_is_not_accepted_since_it_fences_nothing() -> None:
    provider, adapter = provider_on([signed(404, b'{"error": "unknown bet"}')])
    outcome = provider.cancel("b-1")
    assert not outcome.accepted and outcome.status.status is ProviderStatus.UNKNOWN
    assert adapter.requests[0].path_url == "/bets/b-1/cancel"


def test_a_cancel_answered_with_a_result_is_not_accepted_and_carries_it() -> None:
    provider, _ = provider_on([signed(409, body())])
    outcome = provider.cancel("b-1")
    assert not outcome.accepted and outcome.status.payout == Decimal("120.50")


def wallet_on(replies: list[Reply]) -> HttpWallet:
    session, _ = fake(replies)
    return HttpWallet(base_url="http://w", secret=SECRET, session=session, sleep=lambda _: None)


def refund(wallet: HttpWallet) -> object:
    key = refund_idempotency_key("acme", "b-1")
    return wallet.refund(
        idempotency_key=key, provider="acme", bet_ref="b-1", amount=Decimal("10.00"), currency="EUR"
    )


def receipt(**changes: object) -> bytes:
    data = {"refund_id": "r-1", "idempotency_key": refund_idempotency_key("acme", "b-1")}
    return json.dumps({**data, "bet_ref": "b-1", "status": "refunded", **changes}).encode()


@pytest.mark.parametrize(
    "content",
    [
        receipt(idempotency_key="refund:other"),
        receipt(bet_ref="b-2"),
        receipt(status="queued"),
        receipt(refund_id=42),
        b"not json",
    ],
)
def test_a_receipt_about_another_refund_leaves_the_refund_in_doubt(content: bytes) -> None:
    with pytest.raises(WalletUnavailable, match="invalid response"):
        refund(wallet_on([signed(200, content)]))


def test_a_refused_refund_carries_the_wallets_reason() -> None:
    reply = signed(409, b'{"error":"idempotency key reused with a different payload"}')
    with pytest.raises(WalletRejected, match="reused"):
        refund(wallet_on([reply]))
