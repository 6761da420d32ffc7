"""The PG Soft-like GetHistory wire: errors in the body, exact ids and amounts, strict rows,
and the request signature. Pure parsing and signing, no network."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import pytest

from betguard.providers import pgsoft
from betguard.providers.base import Capability, ProviderStatus
from betguard.providers.client_settings import ProviderClientSettings
from betguard.providers.errors import ProviderInvalidResponse, ProviderRejected, ProviderUnavailable
from betguard.providers.registry import build_provider
from betguard_devkit.simulator import pgsoft as sim

PROVIDER = "pg"
ROW: dict[str, Any] = {
    "betId": 2**60 + 1,
    "parentBetId": 123456789012345678,
    "playerName": "sim-player",
    "gameId": 1543462,
    "betType": 1,
    "betAmount": 10.0,
    "winAmount": 25.5,
    "currency": "EUR",
    "betTime": 1714564800000,
    "betEndTime": 1714564805250,
    "rowVersion": 1714564806000,
    "betStatus": "completed",
}


def body(data: list[dict[str, Any]] | None = None, error: dict[str, str] | None = None) -> bytes:
    return json.dumps({"data": data, "error": error}).encode()


def rows(*items: dict[str, Any], row_version: int = 0, count: int = 1500) -> list[Any]:
    return pgsoft.parse_rows(body(list(items)), row_version=row_version, count=count,
                             provider=PROVIDER)


def error(code: str, message: str = "said so") -> Exception:
    with pytest.raises(Exception) as caught:
        pgsoft.parse_rows(body(error={"code": code, "message": message}), row_version=0,
                          count=1500, provider=PROVIDER)
    return caught.value


def refused(content: bytes, *, row_version: int = 0, count: int = 1500) -> str:
    with pytest.raises(ProviderInvalidResponse) as caught:
        pgsoft.parse_rows(content, row_version=row_version, count=count, provider=PROVIDER)
    return str(caught.value)


def provider(**overrides: Any) -> pgsoft.PgSoftProvider:
    settings: dict[str, Any] = {"name": PROVIDER, "base_url": "http://127.0.0.1:9",
                                "secret": "s3cret", "options": {"operator_token": "op-1"}}
    settings.update(overrides)
    return pgsoft.PgSoftProvider(ProviderClientSettings(**settings))


# -- errors in the body ------------------------------------------------------------------


@pytest.mark.parametrize("code", ["1034", "1204", "1301"])
def test_a_body_error_about_the_request_or_its_credentials_is_a_refusal(code: str) -> None:
    found = error(code, "no such operator")
    assert type(found) is ProviderRejected
    assert code in str(found) and "no such operator" in str(found)


@pytest.mark.parametrize("code", ["1200", "3021"])
def test_a_body_error_saying_try_later_is_no_answer_yet(code: str) -> None:
    assert type(error(code)) is ProviderUnavailable


def test_the_too_often_error_says_the_feed_was_called_too_often() -> None:
    assert "called too often" in str(error("3021", "slow down"))


def test_an_unknown_error_code_is_an_invalid_answer() -> None:
    found = error("9999", "mystery")
    assert type(found) is ProviderInvalidResponse and "9999" in str(found)


def test_every_error_code_the_simulator_answers_has_a_meaning_in_the_adapter() -> None:
    assert set(sim.ERRORS) == set(pgsoft.ERROR_CODES)


@pytest.mark.parametrize("content", [
    body(None, None),
    body([], {"code": "1200", "message": "both"}),
    b'{"data": []}',
    b'{"error": null}',
    b"[]",
    b"null",
    b"",
    b"<html>gateway</html>",
    b"\xff\xfe",
    b'{"data": [{"winAmount": NaN}], "error": null}',
    b"[" * 100_000,
])
def test_a_body_that_is_not_exactly_the_envelope_is_invalid(content: bytes) -> None:
    assert "invalid GetHistory answer" in refused(content)


def test_an_error_code_that_is_not_a_string_is_invalid() -> None:
    assert "error.code" in refused(json.dumps({"data": None,
                                               "error": {"code": 1034}}).encode())


# -- rows ---------------------------------------------------------------------------------


def test_ids_above_two_to_the_53_survive_exactly() -> None:
    (row,) = rows({**ROW, "betId": 9007199254740993, "parentBetId": 9007199254740995})
    assert row.row_id == "9007199254740993" and row.bet_ref == "9007199254740995"


def test_amounts_sent_as_json_numbers_come_out_as_exact_decimals() -> None:
    text = json.dumps(ROW).replace('"betAmount": 10.0', '"betAmount": 0.1') \
        .replace('"winAmount": 25.5', '"winAmount": 0.3')
    (row,) = pgsoft.parse_rows(b'{"data": [%s], "error": null}' % text.encode(),
                               row_version=0, count=1500)
    assert row.stake == Decimal("0.1") and row.payout == Decimal("0.3")
    assert row.stake + Decimal("0.2") == row.payout  # 0.1 + 0.2 is 0.3 here, unlike floats


def test_a_completed_row_is_a_settled_bet_with_its_payout_and_times() -> None:
    (row,) = rows(ROW)
    assert (row.status, row.payout, row.stake, row.currency, row.version) == (
        ProviderStatus.SETTLED, Decimal("25.5"), Decimal("10.0"), "EUR", 1714564806000)
    assert row.placed_at == datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert row.settled_at == datetime(2024, 5, 1, 12, 0, 5, 250000, tzinfo=UTC)


def test_a_running_row_is_pending_without_a_payout() -> None:
    (row,) = rows({**ROW, "betStatus": "running", "winAmount": 0, "betEndTime": None})
    assert (row.status, row.payout, row.settled_at) == (ProviderStatus.PENDING, None, None)


def test_a_refunded_row_is_a_cancelled_bet_without_a_payout() -> None:
    (row,) = rows({**ROW, "betStatus": "refunded", "winAmount": 0})
    assert (row.status, row.payout) == (ProviderStatus.CANCELLED, None)
    assert row.settled_at == datetime(2024, 5, 1, 12, 0, 5, 250000, tzinfo=UTC)


@pytest.mark.parametrize(("change", "field"), [
    ({"betId": "1152921504606846977"}, "betId"),
    ({"betId": 1.5}, "betId"),
    ({"betId": True}, "betId"),
    ({"betId": 2**63}, "betId"),
    ({"parentBetId": 0}, "parentBetId"),
    ({"betAmount": "10.00"}, "betAmount"),
    ({"winAmount": -1}, "winAmount"),
    ({"winAmount": 1e20}, "winAmount"),
    ({"winAmount": 0.30000000000000004}, "winAmount"),
    ({"winAmount": None}, "winAmount"),
    ({"currency": "eur"}, "currency"),
    ({"betStatus": "won"}, "betStatus"),
    ({"rowVersion": -1}, "rowVersion"),
    ({"betTime": "2024-05-01"}, "betTime"),
    ({"betEndTime": None}, "betEndTime"),
    ({"playerName": ""}, "playerName"),
])
def test_a_malformed_row_is_refused_naming_its_field(change: dict[str, Any], field: str) -> None:
    message = refused(body([{**ROW, **change}]))
    assert field in message, message


def test_a_row_without_a_field_is_refused_naming_it() -> None:
    incomplete = {key: value for key, value in ROW.items() if key != "winAmount"}
    assert "data.0.winAmount" in refused(body([incomplete]))


def test_a_row_older_than_the_requested_version_is_refused() -> None:
    message = refused(body([ROW]), row_version=ROW["rowVersion"] + 1)
    assert "data.0.rowVersion" in message


def test_rows_out_of_version_order_are_refused() -> None:
    later = {**ROW, "betId": ROW["betId"] + 1, "rowVersion": ROW["rowVersion"] + 5}
    assert "data.1.rowVersion" in refused(body([later, ROW]))


def test_a_page_longer_than_asked_for_is_refused() -> None:
    many = [{**ROW, "betId": ROW["betId"] + i, "rowVersion": ROW["rowVersion"] + i}
            for i in range(3)]
    assert "more than the 2 asked for" in refused(body(many), count=2)


# -- pages and cursors ------------------------------------------------------------------


def test_the_cursor_is_the_highest_version_and_a_full_page_means_more() -> None:
    found = rows(ROW, {**ROW, "betId": ROW["betId"] + 1, "rowVersion": ROW["rowVersion"] + 7},
                 count=2)
    page = pgsoft.to_page(found, row_version=5, count=2)
    assert (page.cursor, page.more) == (str(ROW["rowVersion"] + 7), True)


def test_an_empty_page_keeps_the_cursor_it_was_asked_with() -> None:
    page = pgsoft.to_page(rows(row_version=42), row_version=42, count=1500)
    assert (page.rows, page.cursor, page.more) == ([], "42", False)


def test_no_cursor_reads_the_feed_from_its_start() -> None:
    assert pgsoft.row_version_of(None) == 0
    assert pgsoft.row_version_of("9223372036854775807") == 2**63 - 1


@pytest.mark.parametrize("cursor", ["", "-1", "1.5", "abc", "\u0661", "9223372036854775808"])
def test_a_cursor_that_is_no_row_version_is_refused(cursor: str) -> None:
    with pytest.raises(ValueError, match="row version"):
        pgsoft.row_version_of(cursor)


# -- the request --------------------------------------------------------------------------


def test_the_request_signature_is_the_hmac_the_simulator_expects() -> None:
    payload = pgsoft.form_body("op-1", "s3cret", 1714564806000, 1500)
    headers = pgsoft.signed_headers("op-1", "s3cret", pgsoft.PATH, payload, now=1714564800)
    digest = hashlib.sha256(payload).hexdigest()
    expected = hmac.new(b"s3cret", f"POST\n/Bet/v4/GetHistory\n1714564800\n{digest}".encode(),
                        hashlib.sha256).hexdigest()
    assert headers["x-date"] == "1714564800"
    assert headers["Authorization"] == f"PWS-HMAC-SHA256 Credential=op-1, Signature={expected}"
    assert sim.check_signature("s3cret", headers, method="POST", path=pgsoft.PATH, body=payload,
                               operator_token="op-1", now=1714564800) is None


def test_a_signature_over_another_body_secret_or_time_does_not_pass_the_simulator() -> None:
    payload = pgsoft.form_body("op-1", "s3cret", 0, 1500)
    headers = pgsoft.signed_headers("op-1", "s3cret", pgsoft.PATH, payload, now=1714564800)

    def problem(secret: str, sent: bytes, now: float, token: str = "op-1") -> str | None:
        return sim.check_signature(secret, headers, method="POST", path=pgsoft.PATH, body=sent,
                                   operator_token=token, now=now)

    assert problem("s3cret", payload, 1714564800) is None
    assert "does not match" in str(problem("s3cret", payload + b"&x=1", 1714564800))
    assert "does not match" in str(problem("other", payload, 1714564800))
    assert "credential" in str(problem("s3cret", payload, 1714564800, token="op-2"))
    assert "x-date" in str(problem("s3cret", payload, 1714564800 + 301))


def test_the_form_carries_the_operator_the_key_and_the_cursor() -> None:
    form = dict(parse_qsl(pgsoft.form_body("op-1", "s e&cret", 77, 2000).decode()))
    assert form == {"operator_token": "op-1", "secret_key": "s e&cret", "bet_type": "1",
                    "row_version": "77", "count": "2000"}
    assert sim.parse_query(form) == sim.Query(77, 2000)


# -- the adapter's shape ------------------------------------------------------------------


def test_the_adapter_offers_only_its_history_feed() -> None:
    adapter = build_provider("pgsoft", ProviderClientSettings(
        name=PROVIDER, base_url="http://127.0.0.1:9", secret="s3cret",
        options={"operator_token": "op-1"}))
    assert adapter.capabilities == frozenset({Capability.HISTORY})
    assert adapter.feeds == ("history",) and adapter.supports_batch is False


@pytest.mark.parametrize(("call", "words"), [
    (lambda p: p.get_status("1"), "no bet status call"),
    (lambda p: p.get_statuses(["1"]), "no batch status call"),
    (lambda p: p.cancel("1"), "no cancel call"),
    (lambda p: p.fetch_history("main", None), "no feed 'main'"),
])
def test_calls_the_provider_does_not_have_are_refused_saying_so(call: Any, words: str) -> None:
    with pytest.raises(ProviderRejected, match=words):
        call(provider())


def test_the_operator_token_option_is_required() -> None:
    with pytest.raises(ValueError, match="operator_token is required"):
        provider(options={})


def test_unknown_options_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match="secure_login, zone"):
        provider(options={"operator_token": "op-1", "zone": "eu", "secure_login": "x"})


@pytest.mark.parametrize("size", [1499, 5001])
def test_a_page_size_outside_what_get_history_allows_is_refused(size: int) -> None:
    with pytest.raises(ValueError, match="page_size must be 1500 to 5000"):
        provider(page_size=size)
