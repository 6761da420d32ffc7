"""The PG Soft GetHistory wire: records as PG's public field list has them (hands of a
round, read on recorded fixtures), errors in the body with PG's meanings, exact ids and
amounts, a refused record that leaves the rest of the page usable, and the request's
trace id and hash authentication. Pure parsing and signing, no network."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import pytest

from betguard.models.domain.answers import Hand
from betguard.models.domain.hands import fold
from betguard.providers import pgsoft, pgsoft_wire
from betguard.providers.base import Capability, ProviderStatus
from betguard.providers.client_settings import ProviderClientSettings
from betguard.providers.errors import ProviderInvalidResponse, ProviderRejected, ProviderUnavailable
from betguard.providers.problems import Problem, ProblemReporter
from betguard.providers.registry import build_provider
from betguard_devkit.simulator import pgsoft_feed as sim_feed
from betguard_devkit.simulator import pgsoft_requests as sim_requests
from tests.support.providers import wire_fixture

PROVIDER = "pg"
TRACE = "3f2c8a4e-51b7-4d5e-9a51-0c5b9c1e7d21"
ROW: dict[str, Any] = json.loads(wire_fixture("pgsoft", "free_spin_round.json"))["data"][2]


def fixture(name: str) -> bytes:
    return wire_fixture("pgsoft", name)


def body(data: list[Any] | None = None, error: dict[str, Any] | None = None) -> bytes:
    return json.dumps({"data": data, "error": error}).encode()


class Reported:
    """The problems an adapter reported, as the metric hook receives them."""

    def __init__(self) -> None:
        self.seen: list[Problem] = []
        self.reporter = ProblemReporter(PROVIDER, lambda _provider, problem: self.seen.append(
            problem))


def parsed(content: bytes, *, row_version: int = 1, count: int = 1500,
           unknown_fields: str = "refuse", reported: Reported | None = None
           ) -> tuple[list[Any], int, int]:
    return pgsoft_wire.parse_rows(content, row_version=row_version, count=count, provider=PROVIDER,
                             trace_id=TRACE, unknown_fields=unknown_fields,
                             report=None if reported is None else reported.reporter)


def rows(*items: dict[str, Any], **kwargs: Any) -> list[Any]:
    return parsed(body(list(items)), **kwargs)[0]


def error(code: Any, message: str = "said so", reported: Reported | None = None) -> Exception:
    with pytest.raises(Exception) as caught:
        parsed(body(error={"code": code, "message": message}), reported=reported)
    return caught.value


def refused(content: bytes, **kwargs: Any) -> str:
    with pytest.raises(ProviderInvalidResponse) as caught:
        parsed(content, **kwargs)
    return str(caught.value)


def provider(**overrides: Any) -> pgsoft.PgSoftProvider:
    settings: dict[str, Any] = {"name": PROVIDER, "base_url": "http://127.0.0.1:9",
                                "secret": "s3cret", "options": {"operator_token": "op-1"}}
    settings.update(overrides)
    return pgsoft.PgSoftProvider(ProviderClientSettings(**settings))


# -- records as PG sends them (recorded fixtures) -----------------------------------------


def test_a_free_spin_round_of_three_hands_settles_on_the_sum_of_its_hands() -> None:
    hands, top, listed = parsed(fixture("free_spin_round.json"))
    assert [row.hand for row in hands] == [Hand.NOT_LAST, Hand.NOT_LAST, Hand.LAST]
    assert {row.bet_ref for row in hands} == {"1756523123456789012"}
    (round_,) = fold(hands)
    assert (round_.status, round_.stake, round_.payout, round_.hands) == (
        ProviderStatus.SETTLED, Decimal("10.0"), Decimal("10.0"), 3)
    assert round_.settled_at == datetime(2024, 5, 1, 12, 0, 5, 250000, tzinfo=UTC)
    assert (top, listed) == (1714564806003, 3)


def test_a_round_without_its_last_hand_is_pending_and_an_adjusted_one_is_final() -> None:
    hands, _, _ = parsed(fixture("pending_and_adjusted.json"))
    pending, adjusted = (fold([row])[0] for row in hands)
    assert (pending.status, pending.payout) == (ProviderStatus.PENDING, None)
    assert (adjusted.status, adjusted.payout) == (ProviderStatus.SETTLED, Decimal("30.0"))


def test_the_first_hand_alone_would_have_paid_nothing_of_the_round() -> None:
    first, *_ = parsed(fixture("free_spin_round.json"))[0]
    assert (first.status, first.payout) == (ProviderStatus.PENDING, Decimal("0.0"))


def test_every_field_of_the_fixtures_is_in_the_public_list_and_the_simulator_sends_it() -> None:
    fields = {key for name in ("free_spin_round.json", "pending_and_adjusted.json")
              for record in json.loads(fixture(name))["data"] for key in record}
    simulated = sim_feed.Record(2**60 + 1, "7", sim_feed.LAST, sim_feed.CASH, Decimal("1"),
                                Decimal("2"), "EUR", 1.0, 2.0, 2.0, 3).row()
    assert fields == set(pgsoft_wire.PUBLIC_FIELDS) == set(simulated)


def test_a_maintenance_error_is_no_answer_yet_naming_the_call_s_trace_id() -> None:
    with pytest.raises(ProviderUnavailable) as caught:
        parsed(fixture("error_maintenance.json"))
    assert type(caught.value) is ProviderUnavailable
    assert "1400" in str(caught.value) and "maintenance" in str(caught.value)
    assert TRACE in str(caught.value)


# -- errors in the body ------------------------------------------------------------------


@pytest.mark.parametrize("code", ["1034", "1204"])
def test_a_body_error_about_the_request_or_the_operator_is_a_refusal(code: str) -> None:
    found = error(code, "no such operator")
    assert type(found) is ProviderRejected
    assert code in str(found) and "no such operator" in str(found)


@pytest.mark.parametrize("code", ["1200", "1035", "1303", "1400"])
def test_a_body_error_saying_try_later_is_no_answer_yet(code: str) -> None:
    assert type(error(code)) is ProviderUnavailable


@pytest.mark.parametrize("code", ["3021", "1301", "9999"])
def test_a_code_with_no_meaning_for_history_is_retried_and_counted_never_a_refusal(
    code: str, caplog: pytest.LogCaptureFixture
) -> None:
    reported = Reported()
    with caplog.at_level(logging.WARNING):
        found = error(code, "mystery", reported)
    assert type(found) is ProviderInvalidResponse  # a ProviderUnavailable: retried
    assert code in str(found) and TRACE in str(found)
    assert reported.seen == [Problem.UNKNOWN_CODE]
    assert f"provider {PROVIDER}" in caplog.text and TRACE in caplog.text


def test_an_error_code_sent_as_a_number_means_what_the_string_means() -> None:
    assert type(error(1204)) is ProviderRejected


def test_every_error_code_the_simulator_answers_has_a_meaning_in_the_adapter() -> None:
    assert set(sim_requests.ERRORS) <= set(pgsoft_wire.ERROR_CODES)


@pytest.mark.parametrize("content", [
    body(None, None),
    body([], {"code": "1200", "message": "both"}),
    b'{"data": []}',
    b'{"error": null}',
    b'{"data": "not a list", "error": null}',
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


def test_a_page_longer_than_asked_for_is_refused() -> None:
    many = [{**ROW, "betId": ROW["betId"] + i, "rowVersion": ROW["rowVersion"] + i}
            for i in range(3)]
    assert "more than the 2 asked for" in refused(body(many), count=2)


# -- records ------------------------------------------------------------------------------


def test_ids_above_two_to_the_53_survive_exactly() -> None:
    (row,) = rows({**ROW, "betId": 9007199254740993, "parentBetId": 9007199254740995})
    assert row.row_id == "9007199254740993" and row.bet_ref == "9007199254740995"


def test_amounts_sent_as_json_numbers_come_out_as_exact_decimals() -> None:
    text = json.dumps(ROW).replace('"betAmount": 0.0', '"betAmount": 0.1') \
        .replace('"winAmount": 7.5', '"winAmount": 0.3')
    (row,) = parsed(b'{"data": [%s], "error": null}' % text.encode())[0]
    assert row.stake == Decimal("0.1") and row.payout == Decimal("0.3")
    assert row.stake + Decimal("0.2") == row.payout  # 0.1 + 0.2 is 0.3 here, unlike floats


def test_a_last_hand_carries_its_times_and_version() -> None:
    (row,) = rows(ROW)
    assert (row.status, row.payout, row.currency, row.version) == (
        ProviderStatus.SETTLED, Decimal("7.5"), "THB", 1714564806003)
    assert row.placed_at == datetime(2024, 5, 1, 12, 0, 3, tzinfo=UTC)


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
    ({"currency": "thb"}, "currency"),
    ({"handsStatus": 4}, "handsStatus"),
    ({"handsStatus": "2"}, "handsStatus"),
    ({"transactionType": 9}, "transactionType"),
    ({"rowVersion": -1}, "rowVersion"),
    ({"betTime": "2024-05-01"}, "betTime"),
    ({"betEndTime": None}, "betEndTime"),
    ({"jackpotWinAmount": 50.0}, "jackpotWinAmount"),
    ({"betStatus": "completed"}, "betStatus"),
    ({"betType": 2}, "betType"),
])
def test_a_record_that_does_not_pass_is_left_out_naming_its_field_and_the_rest_is_used(
    change: dict[str, Any], field: str, caplog: pytest.LogCaptureFixture
) -> None:
    reported = Reported()
    other = {**ROW, "betId": ROW["betId"] + 1, "rowVersion": ROW["rowVersion"] + 1}
    with caplog.at_level(logging.WARNING):
        kept, top, listed = parsed(body([{**ROW, **change}, other]), reported=reported)
    assert [row.row_id for row in kept] == [str(other["betId"])]
    assert (top, listed) == (other["rowVersion"], 2)
    assert len(reported.seen) == 1
    assert reported.seen[0] is (Problem.OTHER_PRODUCT if field == "betType"
                                else Problem.ROW_REFUSED)
    [line] = [record.getMessage() for record in caplog.records]
    assert f"provider {PROVIDER}" in line and field in line and TRACE in line, line


def test_a_record_without_a_field_is_left_out_naming_it() -> None:
    reported = Reported()
    incomplete = {key: value for key, value in ROW.items() if key != "handsStatus"}
    assert rows(incomplete, reported=reported) == []
    assert reported.seen == [Problem.ROW_REFUSED]


def test_fields_outside_the_public_list_can_be_let_through_by_option() -> None:
    (row,) = rows({**ROW, "newField": 1}, unknown_fields="ignore")
    assert row.hand is Hand.LAST


def test_a_record_older_than_the_requested_version_is_left_out() -> None:
    reported = Reported()
    assert rows(ROW, row_version=ROW["rowVersion"] + 1, reported=reported) == []
    assert reported.seen == [Problem.ROW_REFUSED]


# -- pages and cursors ------------------------------------------------------------------


def test_the_cursor_is_the_highest_version_listed_even_of_a_refused_record() -> None:
    refused_one = {**ROW, "betId": ROW["betId"] + 1, "rowVersion": ROW["rowVersion"] + 7,
                   "handsStatus": 9}
    found, top, listed = parsed(body([ROW, refused_one]), count=2)
    page = pgsoft_wire.to_page(found, top=top, listed=listed, count=2)
    assert (len(page.rows), page.cursor, page.more) == (1, str(ROW["rowVersion"] + 7), True)


def test_an_empty_page_keeps_the_cursor_it_was_asked_with() -> None:
    found, top, listed = parsed(body([]), row_version=42)
    page = pgsoft_wire.to_page(found, top=top, listed=listed, count=1500)
    assert (page.rows, page.cursor, page.more) == ([], "42", False)


def test_no_cursor_reads_the_feed_from_its_start_at_version_one() -> None:
    assert pgsoft_wire.row_version_of(None) == 1
    assert pgsoft_wire.row_version_of("9223372036854775807") == 2**63 - 1


@pytest.mark.parametrize("cursor", ["", "-1", "1.5", "abc", "\u0661", "9223372036854775808"])
def test_a_cursor_that_is_no_row_version_is_refused(cursor: str) -> None:
    with pytest.raises(ValueError, match="row version"):
        pgsoft_wire.row_version_of(cursor)


# -- the request --------------------------------------------------------------------------


def test_every_call_carries_a_trace_id_in_its_query_string() -> None:
    path = pgsoft_wire.traced_path(TRACE)
    assert path == f"/Bet/v4/GetHistory?trace_id={TRACE}"
    assert sim_requests.trace_id_of(path.partition("?")[2]) == TRACE


def test_the_hash_authentication_is_the_documented_scheme_computed_by_hand() -> None:
    payload = b"operator_token=op-1&secret_key=s3cret&bet_type=1&row_version=1&count=1500"
    url = f"https://api.pg-bo.me/external-datagrabber/Bet/v4/GetHistory?trace_id={TRACE}"
    headers = pgsoft_wire.hash_headers("op-1", "salt-9", url, payload,
                                  now=datetime(2019, 9, 2, 23, 59, tzinfo=UTC))
    content = hashlib.sha256(payload).hexdigest()
    # host + x-content-sha256 + x-date, nothing between them, keyed with the salt
    expected = hmac.new(b"salt-9", ("api.pg-bo.me" + content + "20190902").encode(),
                        hashlib.sha256).hexdigest()
    assert headers == {
        "x-date": "20190902",
        "x-content-sha256": content,
        "Authorization": "PWS-HMAC-SHA256 Credential=20190902/op-1/pws/v1,"
                         f"SignedHeaders=host;x-content-sha256;x-date,Signature={expected}",
    }
    assert re.fullmatch(r"[0-9a-f]{64}", expected)


def test_the_hash_date_is_the_utc_date_whatever_the_local_offset() -> None:
    from datetime import timedelta, timezone
    tokyo = datetime(2019, 9, 3, 7, 0, tzinfo=timezone(timedelta(hours=9)))  # 22:00 UTC 2 Sep
    headers = pgsoft_wire.hash_headers("op-1", "s", "http://h/p", b"", now=tokyo)
    assert headers["x-date"] == "20190902"


def test_a_hash_over_another_body_salt_token_or_day_does_not_pass_the_simulator() -> None:
    payload = pgsoft_wire.form_body("op-1", "s3cret", 1, 1500)
    now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    headers = {**pgsoft_wire.hash_headers("op-1", "salt", "http://127.0.0.1:8080/Bet", payload,
                                     now=now), "Host": "127.0.0.1:8080"}

    def problem(salt: str, sent: bytes, token: str = "op-1", day: float = 0) -> str | None:
        return sim_requests.check_hash(salt, headers, body=sent, operator_token=token,
                              now=now.timestamp() + day)

    assert problem("salt", payload) is None
    assert "x-content-sha256" in str(problem("salt", payload + b"&x=1"))
    assert "does not match" in str(problem("other", payload))
    assert "credential" in str(problem("salt", payload, token="op-2"))
    assert "x-date" in str(problem("salt", payload, day=86400))


def test_the_form_carries_the_operator_the_key_and_the_cursor() -> None:
    form = dict(parse_qsl(pgsoft_wire.form_body("op-1", "s e&cret", 77, 2000).decode()))
    assert form == {"operator_token": "op-1", "secret_key": "s e&cret", "bet_type": "1",
                    "row_version": "77", "count": "2000"}
    assert sim_requests.parse_query(form) == sim_requests.Query(77, 2000)


# -- the adapter's shape ------------------------------------------------------------------


def test_the_adapter_offers_only_its_history_feed_and_its_time_range_history() -> None:
    adapter = build_provider("pgsoft", ProviderClientSettings(
        name=PROVIDER, base_url="http://127.0.0.1:9", secret="s3cret",
        options={"operator_token": "op-1"}))
    assert adapter.capabilities == frozenset({Capability.HISTORY, Capability.HISTORY_WINDOW})
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


def test_the_hash_salt_comes_from_the_environment_variable_the_option_names(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValueError, match="PG_SALT_FOR_TEST, which is not set"):
        provider(options={"operator_token": "op-1", "hash_salt_env": "PG_SALT_FOR_TEST"})
    monkeypatch.setenv("PG_SALT_FOR_TEST", "salt")
    assert provider(options={"operator_token": "op-1", "hash_salt_env": "PG_SALT_FOR_TEST"})


def test_the_unknown_fields_option_takes_only_its_two_values() -> None:
    with pytest.raises(ValueError, match="unknown_fields must be one of refuse, ignore"):
        provider(options={"operator_token": "op-1", "unknown_fields": "keep"})
