"""The Pragmatic-like wire: the request hash, error codes in the body, the finished-rounds
CSV read strictly, round references and the adapter's options. Pure parsing and signing,
no network."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from betguard.providers import pragmatic
from betguard.providers.base import Capability, ProviderStatus
from betguard.providers.client_settings import ProviderClientSettings
from betguard.providers.errors import ProviderInvalidResponse, ProviderRejected, ProviderUnavailable
from betguard.providers.registry import build_provider
from betguard_devkit.simulator import pragmatic as sim

PROVIDER = "pp"
HEADER = ",".join(pragmatic.COLUMNS)
LINE = ("12345,player-1,vs20olympgate,8812345,,2024-05-01 12:00:00.000,"
        "2024-05-01 12:00:05.250,C,R,10.00,25.50,EUR,0.00")
AFTER_QUOTE = LINE.replace("player-1", '"pl"ayer')  # text after a closing quote
OPEN_QUOTE = LINE.replace("player-1", '"open')  # a quote never closed


def envelope(error: int, description: str = "said so", **extra: Any) -> bytes:
    return json.dumps({"error": error, "description": description, **extra}).encode()


def feed(*lines: str, timepoint: int = 1714564806000, requested: int = 0) -> tuple[int, list[Any]]:
    content = "\n".join([f"timepoint={timepoint}", *lines]) + "\n"
    return pragmatic.parse_feed(content.encode(), timepoint=requested, provider=PROVIDER)


def refused_feed(content: str | bytes, requested: int = 0) -> str:
    raw = content.encode() if isinstance(content, str) else content
    with pytest.raises(ProviderInvalidResponse) as caught:
        pragmatic.parse_feed(raw, timepoint=requested, provider=PROVIDER)
    return str(caught.value)


def provider(**overrides: Any) -> pragmatic.PragmaticProvider:
    settings: dict[str, Any] = {"name": PROVIDER, "base_url": "http://127.0.0.1:9",
                                "secret": "s3cret", "options": {"secure_login": "login-1"}}
    settings.update(overrides)
    return pragmatic.PragmaticProvider(ProviderClientSettings(**settings))


# -- the hash ------------------------------------------------------------------------------


def test_the_hash_is_the_md5_of_the_sorted_parameters_with_the_secret_appended() -> None:
    params = {"secureLogin": "test-login", "roundId": "8812345", "playerId": "player-1",
              "gameId": "vs20olympgate", "empty": ""}
    # md5("empty=&gameId=vs20olympgate&playerId=player-1&roundId=8812345&secureLogin=test-login"
    #     "s3cret"), computed by md5sum
    expected = "7508185c1ea411f8d4e85fed88fd4774"
    assert pragmatic.request_hash(params, "s3cret") == expected
    assert pragmatic.request_hash({**params, "hash": "anything"}, "s3cret") == expected
    assert pragmatic.signed(params, "s3cret") == {**params, "hash": expected}


def test_keys_sort_in_plain_string_order_and_the_simulator_agrees() -> None:
    # "Zeta" sorts before "alpha": upper case first, no case folding
    assert pragmatic.request_hash({"alpha": "2", "Zeta": "1"}, "s3cret") == \
        "77304a521aba150dd5b31eacc51d3ef5"
    params = {"login": "l", "timepoint": "0", "dataType": "RNG", "x": "ü & = ?"}
    assert sim.request_hash(params, "k") == pragmatic.request_hash(params, "k")
    assert pragmatic.request_hash(params, "k") != pragmatic.request_hash(params, "other")


# -- errors in the body --------------------------------------------------------------------


@pytest.mark.parametrize("code", [2, 4, 5])
def test_a_bad_parameter_login_or_hash_is_a_refusal(code: int) -> None:
    with pytest.raises(ProviderRejected) as caught:
        pragmatic.parse_incomplete(envelope(code, "hash: does not match"), provider=PROVIDER)
    assert f"error {code}" in str(caught.value) and "hash: does not match" in str(caught.value)
    with pytest.raises(ProviderRejected):
        pragmatic.cancel_outcome(envelope(code), "g:1", provider=PROVIDER)
    with pytest.raises(ProviderRejected):
        pragmatic.parse_feed(envelope(code), timepoint=0, provider=PROVIDER)


@pytest.mark.parametrize("code", [7, 100])
def test_too_many_requests_and_an_internal_error_mean_later(code: int) -> None:
    for parse in (lambda body: pragmatic.parse_incomplete(body, provider=PROVIDER),
                  lambda body: pragmatic.cancel_outcome(body, "g:1", provider=PROVIDER),
                  lambda body: pragmatic.parse_feed(body, timepoint=0, provider=PROVIDER)):
        with pytest.raises(ProviderUnavailable) as caught:
            parse(envelope(code))
        assert type(caught.value) is ProviderUnavailable  # later, not an invalid answer


@pytest.mark.parametrize("code", [1, 3, 8, 120, 999])
def test_a_code_without_a_meaning_for_the_call_is_an_invalid_answer(code: int) -> None:
    with pytest.raises(ProviderInvalidResponse, match=f"unexpected code {code}"):
        pragmatic.parse_incomplete(envelope(code), provider=PROVIDER)


def test_cancel_round_codes_say_cancelled_finished_or_not_found() -> None:
    accepted = pragmatic.cancel_outcome(envelope(0), "g:1", provider=PROVIDER)
    assert accepted.accepted and accepted.status.status is ProviderStatus.CANCELLED
    completed = pragmatic.cancel_outcome(envelope(120), "g:1", provider=PROVIDER, via="http://b")
    assert not completed.accepted
    assert (completed.status.bet_ref, completed.status.status, completed.status.via) == (
        "g:1", ProviderStatus.FINISHED, "http://b")
    assert completed.status.payout is None  # the result comes from the feed
    missing = pragmatic.cancel_outcome(envelope(8), "g:1", provider=PROVIDER)
    assert not missing.accepted and missing.status.status is ProviderStatus.UNKNOWN


def test_incomplete_rounds_are_read_exactly() -> None:
    body = b'{"error": 0, "description": "OK", "data": [{"gameId": "vs20olympgate", ' \
           b'"roundId": 9223372036854775807, "betAmount": 0.30, "currency": "EUR"}]}'
    [found] = pragmatic.parse_incomplete(body, provider=PROVIDER)
    assert found.roundId == 2**63 - 1 and found.betAmount == Decimal("0.30")


@pytest.mark.parametrize(("body", "named"), [
    (b"<html>busy</html>", "not JSON"),
    (b'{"description": "OK"}', "error"),
    (b'{"error": "0", "description": "OK", "data": []}', "error"),
    (b'{"error": 0, "description": "OK"}', "data"),
    (b'{"error": 0, "data": [{"gameId": "g", "roundId": "12"}]}', "data.0.roundId"),
    (b'{"error": 0, "data": [{"gameId": "g", "roundId": 12, "betAmount": "1.00"}]}',
     "data.0.betAmount"),
    (b'{"error": 0, "data": [{"gameId": "g/h", "roundId": 12}]}', "data.0.gameId"),
    (b'{"error": 0, "data": [{"gameId": "g", "roundId": 12, "betAmount": NaN}]}', "not JSON"),
    (b'[0]', "body"),
])
def test_a_malformed_json_answer_is_invalid_naming_the_field(body: bytes, named: str) -> None:
    with pytest.raises(ProviderInvalidResponse) as caught:
        pragmatic.parse_incomplete(body, provider=PROVIDER)
    assert named in str(caught.value)


# -- the finished-rounds CSV ---------------------------------------------------------------


def test_a_feed_line_becomes_a_settled_row_with_exact_amounts_and_times() -> None:
    following, [row] = feed(HEADER, LINE)
    assert following == 1714564806000
    assert (row.row_id, row.bet_ref, row.status) == (
        "vs20olympgate:8812345", "vs20olympgate:8812345", ProviderStatus.SETTLED)
    assert (row.stake, row.payout, row.currency) == (Decimal("10.00"), Decimal("25.50"), "EUR")
    assert row.placed_at == datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
    assert row.settled_at == datetime(2024, 5, 1, 12, 0, 5, 250000, tzinfo=UTC)
    assert row.version == 1714564805250  # endDate in ms


def test_a_cancelled_round_has_no_payout_and_a_child_row_belongs_to_its_parent() -> None:
    cancelled = LINE.replace(",C,", ",X,")
    child = LINE.replace("8812345,,", "9000000000000000001,8812345,")
    _, [first, second] = feed(HEADER, cancelled, child)
    assert (first.status, first.payout) == (ProviderStatus.CANCELLED, None)
    assert second.row_id == "vs20olympgate:9000000000000000001"
    assert second.bet_ref == "vs20olympgate:8812345"  # a second record of the same bet


def test_quoted_fields_may_hold_commas_quotes_and_newlines() -> None:
    quoted = LINE.replace("player-1", '"smith, ""jr""\nthe 2nd"')
    _, [row, again] = feed(HEADER, quoted, LINE)
    assert row.bet_ref == again.bet_ref == "vs20olympgate:8812345"
    # lines are counted as sent: the quoted field took two
    bad = LINE.replace("EUR", "EURO")
    assert "line 5, currency:" in refused_feed(f"timepoint=1\n{HEADER}\n{quoted}\n{bad}\n")


def test_columns_are_read_by_the_header_in_any_order_extra_ones_ignored() -> None:
    columns = list(reversed(pragmatic.COLUMNS))
    values = list(reversed(LINE.split(",")))
    _, [row] = feed(",".join([*columns, "region"]), ",".join([*values, "EU"]))
    assert (row.bet_ref, row.payout) == ("vs20olympgate:8812345", Decimal("25.50"))


def test_an_empty_feed_keeps_its_timepoint_with_or_without_a_header() -> None:
    assert feed(HEADER) == (1714564806000, [])
    assert feed() == (1714564806000, [])
    assert pragmatic.parse_feed(b"timepoint=5", timepoint=5, provider=PROVIDER) == (5, [])


@pytest.mark.parametrize(("content", "named"), [
    ("", "line 1: expected timepoint=<ms>"),
    (f"{HEADER}\n{LINE}\n", "line 1: expected timepoint=<ms>"),
    (f"timepoint=-1\n{HEADER}\n", "line 1"),
    (f"timepoint=12\n{HEADER}\n", "line 1: timepoint 12 is before the requested 100"),
    (f"timepoint=100\n{HEADER.replace(',win', '')}\n", "line 2: the header lacks win"),
    (f"timepoint=100\n{HEADER},bet\n", "line 2: the header repeats a column"),
    (f"timepoint=100\n{HEADER}\n{LINE}\n{LINE.rsplit(',', 1)[0]}\n",
     "line 4: 12 fields, the header has 13"),
    (f"timepoint=100\n{HEADER}\n{LINE}\n\n", "line 4: 0 fields"),
    (f"timepoint=100\n{HEADER}\n{LINE.replace('10.00', '-10.00')}\n", "line 3, bet:"),
    (f"timepoint=100\n{HEADER}\n{LINE.replace('25.50', '25.5e1')}\n", "line 3, win:"),
    (f"timepoint=100\n{HEADER}\n{LINE.replace(',C,', ',I,')}\n", "line 3, status:"),
    (f"timepoint=100\n{HEADER}\n{LINE.replace('EUR', 'eur')}\n", "line 3, currency:"),
    (f"timepoint=100\n{HEADER}\n{LINE.replace('8812345', '08812345')}\n",
     "line 3, playSessionID:"),
    (f"timepoint=100\n{HEADER}\n{LINE.replace('12:00:05.250', '25:00:05')}\n",
     "line 3, endDate:"),
    (f"timepoint=100\n{HEADER}\n{LINE.replace('05.250', '05.2500')}\n", "line 3, endDate:"),
    (f"timepoint=100\n{HEADER}\n{LINE.replace('12:00:00.000', '12:00:06')}\n",
     "line 3, endDate: Value error, endDate is before startDate"),
    (f"timepoint=100\n{HEADER}\n{LINE.replace('vs20olympgate', 'vs20 olymp')}\n",
     "line 3, gameID:"),
    (f"timepoint=100\n{HEADER}\n{AFTER_QUOTE}\n", "line 3: not CSV"),
    (f"timepoint=100\n{HEADER}\n{OPEN_QUOTE}\n", "not CSV"),
    ('{"error": 0, "description": "OK"}', "JSON without an error"),
    ('{"error": "7"}', "error"),
    (b"timepoint=100\n\xff\xfe\n", "not UTF-8"),
])
def test_a_malformed_feed_is_refused_naming_the_line_and_field(content: str | bytes,
                                                               named: str) -> None:
    assert named in refused_feed(content, requested=100)


def test_the_simulators_csv_is_what_the_adapter_reads() -> None:
    record = sim.Record("vs20olympgate", 8812345, None, "vs20olympgate:8812345", "main",
                        'smith, "jr"', Decimal("0.30"), "EUR", 1714564800000, 1714564805250,
                        sim.COMPLETED, Decimal("1.20"))
    body = sim.csv_body(1714564806000, [record]).get_data()
    following, [row] = pragmatic.parse_feed(body, timepoint=0, provider=PROVIDER)
    assert following == 1714564806000
    assert (row.row_id, row.stake, row.payout, row.version) == (
        "vs20olympgate:8812345", Decimal("0.30"), Decimal("1.20"), 1714564805250)


# -- references, cursors, options ----------------------------------------------------------


def test_a_round_reference_is_the_game_and_the_round() -> None:
    assert pragmatic.split_ref("vs20olympgate:8812345") == ("vs20olympgate", "8812345")
    assert pragmatic.split_ref("G_1:9223372036854775807") == ("G_1", "9223372036854775807")
    assert sim.split_ref("vs20olympgate:8812345") == ("vs20olympgate", 8812345)


@pytest.mark.parametrize("ref", ["8812345", "vs20:", ":8812345", "vs20:0", "vs20:08812345",
                                 "vs20:12a", "vs-20:1", "vs20:1:2", "vs20:9223372036854775808",
                                 "vs20: 1", "vs20:\u0661\u0662"])
def test_a_reference_that_is_no_round_is_refused_by_adapter_and_simulator(ref: str) -> None:
    with pytest.raises(ValueError, match="bet_ref"):
        pragmatic.split_ref(ref)
    assert sim.split_ref(ref) is None
    with pytest.raises(ProviderRejected, match="bet_ref"):  # before any request is sent
        provider().get_status(ref, "player-1")
    with pytest.raises(ProviderRejected, match="bet_ref"):
        provider().cancel(ref, "player-1")


def test_calls_about_a_round_need_its_player() -> None:
    with pytest.raises(ProviderRejected, match="needs the bet's player"):
        provider().get_status("vs20:1")
    with pytest.raises(ProviderRejected, match="needs the bet's player"):
        provider().cancel("vs20:1", "")


def test_a_cursor_is_a_timepoint_in_ms() -> None:
    assert pragmatic.timepoint_of(None) == 0
    assert pragmatic.timepoint_of("1714564806000") == 1714564806000
    for cursor in ("", "-1", "1.5", "12a", "9" * 16, "\u0661"):
        with pytest.raises(ValueError, match="timepoint"):
            pragmatic.timepoint_of(cursor)


def test_the_adapter_has_status_cancel_and_a_feed_per_domain() -> None:
    built = build_provider("pragmatic", ProviderClientSettings(
        name=PROVIDER, base_url="http://127.0.0.1:9", secret="s", supports_batch=True,
        options={"secure_login": "l", "domains": ["eu", "asia"]}))
    assert built.capabilities == {Capability.STATUS, Capability.CANCEL, Capability.HISTORY}
    assert built.supports_batch is False and built.feeds == ("eu", "asia")
    assert provider().feeds == ("main",)
    assert pragmatic.domain_url("http://h/x", "main") == "http://h/x"
    assert pragmatic.domain_url("http://h/x", "eu") == "http://h/x/d/eu"
    with pytest.raises(ProviderRejected, match="no feed 'asia'"):
        provider().fetch_history("asia", None)
    with pytest.raises(ProviderRejected, match="no batch"):
        provider().get_statuses(["vs20:1"])


@pytest.mark.parametrize(("options", "named"), [
    ({"secure_login": "l", "operator_token": "x", "colour": 1}, "colour, operator_token"),
    ({}, "secure_login is required"),
    (None, "secure_login is required"),
    ({"secure_login": ""}, "secure_login is required"),
    ({"secure_login": "a b"}, "secure_login is required"),
    ({"secure_login": "l", "domains": []}, "domains must be a non-empty list"),
    ({"secure_login": "l", "domains": "eu"}, "domains must be a non-empty list"),
    ({"secure_login": "l", "domains": ["EU"]}, "domains must be a non-empty list"),
    ({"secure_login": "l", "domains": ["eu", "eu"]}, "names a domain twice"),
])
def test_unknown_or_missing_options_are_refused_naming_them(options: Any, named: str) -> None:
    with pytest.raises(ValueError, match=named):
        provider(options=options)


def test_a_missing_secret_or_no_attempt_is_refused() -> None:
    with pytest.raises(ValueError, match="secret"):
        provider(secret="")
    with pytest.raises(ValueError, match="attempts"):
        provider(attempts=0)
