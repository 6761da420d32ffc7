"""The Pragmatic wire: the request hash, what each error code means, the DataFeeds answers
read from recorded-shape fixtures (tests/fixtures/pragmatic), rows skipped one by one,
round references and the adapter's options. Pure parsing and signing, no network."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from betguard.models.domain.times import to_millis
from betguard.providers import pragmatic
from betguard.providers import pragmatic_answers as answers
from betguard.providers import pragmatic_wire as wire
from betguard.providers.base import Capability, ProviderStatus
from betguard.providers.client_settings import ProviderClientSettings
from betguard.providers.errors import ProviderInvalidResponse, ProviderRejected, ProviderUnavailable
from betguard.providers.problems import Problem, ProblemReporter
from betguard.providers.registry import ROUND_NAMES, build_provider
from betguard_devkit.simulator import pragmatic_requests as sim_requests
from betguard_devkit.simulator import pragmatic_rounds as sim_rounds
from tests.support.providers import ProblemHook, wire_fixture

PROVIDER = "pp"
HEADER = ",".join(wire.COLUMNS)
LINE = ("12345,player-1,vs20olympgate,8812345,null,2024-05-01 12:00:00.000,"
        "2024-05-01 12:00:05.250,C,R,10.00,25.50,EUR,0.00")
AFTER_QUOTE = LINE.replace("player-1", '"pl"ayer')  # text after a closing quote
OPEN_QUOTE = LINE.replace("player-1", '"open')  # a quote never closed


def fixture(name: str) -> bytes:
    return wire_fixture("pragmatic", name)


def reading(hook: ProblemHook, **options: Any) -> wire.Reading:
    return wire.Reading(report=ProblemReporter(PROVIDER, hook), **options)


def envelope(error: int | str, description: str = "said so", **extra: Any) -> bytes:
    return json.dumps({"error": error, "description": description, **extra}).encode()


def feed(*lines: str, timepoint: int = 1714564806000, requested: int = 0,
         hook: ProblemHook | None = None) -> tuple[int, list[Any]]:
    content = "\n".join([f"timepoint={timepoint}", *lines]) + "\n"
    return answers.parse_feed(content.encode(), timepoint=requested, provider=PROVIDER,
                                reading=reading(hook or ProblemHook()))


def refused_feed(content: str | bytes, requested: int = 0) -> str:
    raw = content.encode() if isinstance(content, str) else content
    with pytest.raises(ProviderInvalidResponse) as caught:
        answers.parse_feed(raw, timepoint=requested, provider=PROVIDER)
    return str(caught.value)


def provider(**overrides: Any) -> pragmatic.PragmaticProvider:
    settings: dict[str, Any] = {"name": PROVIDER, "base_url": "http://127.0.0.1:9",
                                "secret": "s3cret", "options": {"secure_login": "login-1"}}
    settings.update(overrides)
    return pragmatic.PragmaticProvider(ProviderClientSettings(**settings))


# -- the hash ------------------------------------------------------------------------------


CANCEL = {"secureLogin": "test-login", "roundId": "8812345", "externalPlayerId": "player-1",
          "gameId": "vs20olympgate"}


def test_the_hash_is_the_md5_of_the_sorted_parameters_with_the_secret_appended() -> None:
    # md5("externalPlayerId=player-1&gameId=vs20olympgate&roundId=8812345"
    #     "&secureLogin=test-login" "s3cret"), computed by md5sum
    expected = "2ba64f9a19ece2ed3cf7fb605bd20fff"
    assert wire.request_hash(CANCEL, "s3cret") == expected
    assert wire.request_hash({**CANCEL, "hash": "anything"}, "s3cret") == expected
    assert wire.signed(CANCEL, "s3cret") == {**CANCEL, "hash": expected}


def test_an_empty_parameter_is_neither_sent_nor_hashed_unless_the_provider_is_set_to() -> None:
    with_empty = {**CANCEL, "empty": ""}
    assert wire.signed(with_empty, "s3cret") == {
        **CANCEL, "hash": "2ba64f9a19ece2ed3cf7fb605bd20fff"}
    # md5("empty=&externalPlayerId=player-1&gameId=vs20olympgate&roundId=8812345"
    #     "&secureLogin=test-login" "s3cret")
    assert wire.signed(with_empty, "s3cret", empty="hash") == {
        **with_empty, "hash": "73a79380875c9aa17027bb52b96af2ef"}


def test_values_are_hashed_raw_unless_the_provider_is_set_to_url_encoded_ones() -> None:
    params = {"externalPlayerId": "a@b:c", "gameId": "g", "roundId": "1", "secureLogin": "l"}
    # md5("externalPlayerId=a@b:c&gameId=g&roundId=1&secureLogin=l" "s3cret")
    assert wire.request_hash(params, "s3cret") == "56b5cd7a558cb13d905d3db81620fe62"
    # md5("externalPlayerId=a%40b%3Ac&gameId=g&roundId=1&secureLogin=l" "s3cret")
    assert wire.request_hash(params, "s3cret", values="urlencoded") == \
        "4174b0b881ce90130adbd2095fb0ec96"


def test_the_environments_hash_covers_the_secure_login_alone() -> None:
    # md5("secureLogin=test-login" "s3cret"): what public clients send to SystemAPI
    assert wire.request_hash({"secureLogin": "test-login"}, "s3cret") == \
        "1177a02d8edbbaf0ebd13eb771ca9d1b"


def test_keys_sort_in_plain_string_order_and_the_simulator_agrees() -> None:
    # md5("Zeta=1&alpha=2" "s3cret"): upper case first, no case folding
    assert wire.request_hash({"alpha": "2", "Zeta": "1"}, "s3cret") == \
        "77304a521aba150dd5b31eacc51d3ef5"
    for params in (CANCEL, {**CANCEL, "externalPlayerId": "ü & = ?"}):
        assert sim_requests.request_hash(params, "k") == wire.request_hash(params, "k")
    assert wire.request_hash(CANCEL, "k") != wire.request_hash(CANCEL, "other")


# -- what each code means ------------------------------------------------------------------


def every_call(body: bytes, hook: ProblemHook | None = None) -> list[Any]:
    """The outcome (or the exception) of each JSON-answered call given ``body``."""
    report = ProblemReporter(PROVIDER, hook)
    calls = [
        lambda: answers.parse_incomplete(body, provider=PROVIDER, report=report),
        lambda: answers.parse_feed(body, timepoint=0, provider=PROVIDER,
                                     reading=wire.Reading(report=report)),
        lambda: answers.parse_environments(body, provider=PROVIDER, report=report),
    ]
    found = []
    for call in calls:
        try:
            found.append(call())
        except Exception as exc:  # noqa: BLE001 - the test looks at which one
            found.append(exc)
    return found


@pytest.mark.parametrize(("code", "meaning"), [
    (2, "player not found"), (4, "authentication failed"), (5, "invalid hash"),
    (7, "bad parameters"), (8, "game not found or disabled"),
    (120, "internal error, not to be retried"),
])
def test_a_refusing_code_is_a_refusal_naming_its_meaning(code: int, meaning: str) -> None:
    for given in (code, str(code)):
        for outcome in every_call(envelope(given, "as the provider said")):
            assert type(outcome) is ProviderRejected
            assert f"error {code} ({meaning}): as the provider said" in str(outcome)


def test_error_7_is_bad_parameters_not_a_rate_limit_to_wait_for() -> None:
    for outcome in every_call(envelope(7)):
        assert isinstance(outcome, ProviderRejected)
        assert not isinstance(outcome, ProviderUnavailable)  # nothing to wait for


def test_error_100_is_an_internal_error_to_try_again_later() -> None:
    for outcome in every_call(envelope(100)):
        assert type(outcome) is ProviderUnavailable  # later, not an invalid answer
        assert "error 100 (internal error, try again later)" in str(outcome)


@pytest.mark.parametrize("code", [17, "17", 1, 3, 999])
def test_an_unknown_code_is_an_invalid_answer_retried_and_counted(
    code: int | str, caplog: pytest.LogCaptureFixture,
) -> None:
    hook = ProblemHook()
    with caplog.at_level(logging.WARNING, logger="betguard.providers.problems"):
        outcomes = every_call(envelope(code, "who knows"), hook)
    for outcome in outcomes:
        assert type(outcome) is ProviderInvalidResponse  # a ProviderUnavailable: retried
        assert isinstance(outcome, ProviderUnavailable)
        assert f"unexpected code {code}" in str(outcome)
    assert hook.calls == [(PROVIDER, Problem.UNKNOWN_CODE)] * 3
    assert f"provider pp: gamerounds/incomplete: unknown_code: error: code {code} " \
           "(who knows)" in caplog.text


@pytest.mark.parametrize("error", ["0.0", " 0", "-1", "00", True, None, 1.0, "zero"])
def test_an_error_that_is_no_code_is_an_invalid_answer(error: Any) -> None:
    for outcome in every_call(envelope(error)):
        assert type(outcome) is ProviderInvalidResponse and "error:" in str(outcome)


def test_cancel_round_codes_say_cancelled_finished_or_not_fenced() -> None:
    accepted = answers.cancel_outcome(fixture("cancel_round_ok.json"), "g:1", provider=PROVIDER)
    assert accepted.accepted and accepted.status.status is ProviderStatus.CANCELLED
    completed = answers.cancel_outcome(envelope("120"), "g:1", provider=PROVIDER,
                                         via="http://b")
    assert not completed.accepted
    assert (completed.status.bet_ref, completed.status.status, completed.status.via) == (
        "g:1", ProviderStatus.FINISHED, "http://b")
    assert completed.status.payout is None  # the result comes from the feed
    missing = answers.cancel_outcome(envelope(8), "g:1", provider=PROVIDER)
    assert not missing.accepted and missing.status.status is ProviderStatus.UNKNOWN


def test_cancel_codes_can_be_given_another_meaning_but_never_a_refund() -> None:
    meanings = pragmatic._options(PROVIDER, {"secure_login": "l", "cancel_codes": {
        "120": "not_fenced"}}).cancel_meanings()
    outcome = answers.cancel_outcome(envelope(120), "g:1", provider=PROVIDER,
                                       meanings=meanings)
    assert (outcome.accepted, outcome.status.status) == (False, ProviderStatus.UNKNOWN)
    with pytest.raises(ProviderRejected, match="error 8 \\(game not found"):
        answers.cancel_outcome(envelope(8), "g:1", provider=PROVIDER, meanings=meanings)
    with pytest.raises(ValueError, match="cancel_codes"):
        pragmatic._options(PROVIDER, {"secure_login": "l", "cancel_codes": {"0": "finished"}})
    with pytest.raises(ValueError, match="cancel_codes"):
        pragmatic._options(PROVIDER, {"secure_login": "l", "cancel_codes": {"17": "refund"}})


def test_an_unknown_cancel_code_is_an_invalid_answer_counted_as_unknown() -> None:
    hook = ProblemHook()
    with pytest.raises(ProviderInvalidResponse, match="unexpected code 17"):
        answers.cancel_outcome(envelope("17"), "g:1", provider=PROVIDER,
                                 report=ProblemReporter(PROVIDER, hook))
    assert hook.calls == [(PROVIDER, Problem.UNKNOWN_CODE)]


# -- recorded answers ----------------------------------------------------------------------


def test_the_recorded_finished_feed_reads_as_settled_pending_and_cancelled_rows() -> None:
    hook = ProblemHook()
    following, rows = answers.parse_feed(fixture("finished_rng.csv"), timepoint=0,
                                           provider=PROVIDER, reading=reading(hook))
    assert following == 1740022596168 and hook.calls == []
    by_id = {row.row_id: row for row in rows}
    sample = by_id["vs5aztecgems:66522376884143"]
    assert (sample.bet_ref, sample.status, sample.stake, sample.payout, sample.currency) == (
        "vs5aztecgems:66522376884143", ProviderStatus.SETTLED, Decimal("0.50"),
        Decimal("7.60"), "PHP")
    assert sample.placed_at == sample.settled_at == datetime(2025, 2, 20, 3, 26, 36, tzinfo=UTC)
    in_progress = by_id["vs10bbbonanza:66522376884160"]
    assert (in_progress.status, in_progress.payout, in_progress.settled_at) == (
        ProviderStatus.PENDING, None, None)  # not final: nothing decided on it
    void = by_id["vs10bbbonanza:66522376884161"]
    assert (void.status, void.payout, void.stake) == (
        ProviderStatus.CANCELLED, None, Decimal("2.00"))


def test_a_free_spin_row_belongs_to_the_round_that_triggered_it() -> None:
    _, rows = answers.parse_feed(fixture("finished_rng.csv"), timepoint=0, provider=PROVIDER)
    by_id = {row.row_id: row for row in rows}
    own = by_id["vs20olympgate:66522376884150"]  # its parentSessionID is itself
    spins = by_id["vs20olympgate:66522376884151"]
    assert own.bet_ref == spins.bet_ref == "vs20olympgate:66522376884150"
    assert spins.payout == Decimal("12.40")


def test_a_rounds_final_state_outranks_its_in_progress_state_of_the_same_moment() -> None:
    running = LINE.replace("2024-05-01 12:00:05.250,C", ",I")
    done = LINE.replace("12:00:05.250", "12:00:00.000")  # ended as it started
    _, [before] = feed(HEADER, running)
    _, [after] = feed(HEADER, done)
    assert before.row_id == after.row_id
    assert before.version == 2 * 1714564800000 and after.version == 2 * 1714564800000 + 1
    _, [settled] = feed(HEADER, LINE)
    assert settled.version == 2 * to_millis(settled.settled_at) + 1


def test_each_bad_row_is_skipped_logged_and_counted_and_the_rest_is_used(
    caplog: pytest.LogCaptureFixture,
) -> None:
    hook = ProblemHook()
    with caplog.at_level(logging.WARNING, logger="betguard.providers.problems"):
        _, rows = answers.parse_feed(fixture("finished_bad_rows.csv"), timepoint=0,
                                       provider=PROVIDER, call="gamerounds/finished RNG",
                                       reading=reading(hook))
    assert [row.row_id for row in rows] == ["vs5aztecgems:66522376884170",
                                            "vs5aztecgems:66522376884177"]
    assert rows[1].payout == Decimal("2.50")  # a good row after the bad ones is used
    assert hook.calls == [(PROVIDER, Problem.ROW_REFUSED)] * 3 + [
        (PROVIDER, Problem.OTHER_PRODUCT)] + [(PROVIDER, Problem.ROW_REFUSED)] * 2
    said = [record.getMessage() for record in caplog.records]
    prefix = "provider pp: gamerounds/finished RNG: "
    assert said[0].startswith(prefix + "row_refused: line 4, status: Input should be 'C', "
                              "'I' or 'V'")
    assert said[1].startswith(prefix + "row_refused: line 5, win: Value error, should be "
                              "an amount")
    assert said[2].startswith(prefix + "row_refused: line 6: 12 fields, the header has 13")
    assert said[3].startswith(prefix + "other_product: line 7, type: 'B' is not a round of "
                              "this feed (R, F)")
    assert said[4].startswith(prefix + "row_refused: line 8, jackpot: a jackpot win of 50.00")
    assert said[5].startswith(prefix + "row_refused: line 9, endDate: Value error, endDate "
                              "is empty in a row of status C")
    assert all(line.endswith("; no decision taken on it") for line in said)


def test_a_jackpot_win_is_refused_unless_the_option_says_how_it_is_paid() -> None:
    jackpot = LINE.replace("EUR,0.00", "EUR,100.00")
    hook = ProblemHook()
    assert feed(HEADER, jackpot, hook=hook)[1] == []
    assert hook.calls == [(PROVIDER, Problem.ROW_REFUSED)]
    [inside] = answers.parse_feed(f"timepoint=1\n{HEADER}\n{jackpot}\n".encode(),
                                    timepoint=0, reading=wire.Reading(jackpot="in_win"))[1]
    [added] = answers.parse_feed(f"timepoint=1\n{HEADER}\n{jackpot}\n".encode(),
                                   timepoint=0, reading=wire.Reading(jackpot="added"))[1]
    assert (inside.payout, added.payout) == (Decimal("25.50"), Decimal("125.50"))


def test_the_recorded_incomplete_answer_lists_rounds_by_play_session() -> None:
    hook = ProblemHook()
    listed = answers.parse_incomplete(fixture("incomplete.json"), provider=PROVIDER,
                                        report=ProblemReporter(PROVIDER, hook))
    assert [(item.gameId, item.playSessionID, item.betAmount) for item in listed] == [
        ("vs10bbbonanza", 66522376884160, Decimal("2.00")),
        ("vs20olympgate", 66522376884190, Decimal("1.00"))]
    assert hook.calls == [(PROVIDER, Problem.ROW_REFUSED)]  # the malformed gameId, skipped


def test_the_recorded_environments_answer_names_each_host() -> None:
    listed = answers.parse_environments(fixture("environments.json"), provider=PROVIDER)
    assert [(env.envName, env.apiDomain) for env in listed] == [
        ("prerelease", "api.prerelease-env.biz"), ("prod-sg12", "api-sg12.ppgames.net")]
    bad = envelope("0", environments=[{"envName": "x", "apiDomain": "h?x=1"}])
    with pytest.raises(ProviderInvalidResponse, match="environments.0.apiDomain"):
        answers.parse_environments(bad, provider=PROVIDER)


def test_the_simulator_speaks_the_recorded_shapes() -> None:
    header = fixture("finished_rng.csv").decode().splitlines()[1]
    assert ",".join(sim_rounds.COLUMNS) == header == HEADER
    recorded = json.loads(fixture("incomplete.json"))
    assert set(recorded) == {"error", "description", "playerId", "data"}
    record = sim_rounds.Record("vs20olympgate", 8812345, None, "vs20olympgate:8812345", "main",
                        "RNG", 'smith, "jr"', Decimal("0.30"), "EUR", 1714564800000,
                        1714564805250, sim_rounds.COMPLETED, Decimal("1.20"))
    assert record.line()[4] == "null"  # a round of its own, as the public sample has it
    body = sim_requests.csv_body(1714564806000, [record]).get_data()
    following, [row] = answers.parse_feed(body, timepoint=0, provider=PROVIDER)
    assert following == 1714564806000
    assert (row.row_id, row.stake, row.payout, row.version) == (
        "vs20olympgate:8812345", Decimal("0.30"), Decimal("1.20"), 2 * 1714564805250 + 1)
    running = sim_rounds.Record("vs20olympgate", 8812346, None, "vs20olympgate:8812346", "main",
                         "RNG", None, Decimal("1"), "EUR", 1714564800000, None,
                         sim_rounds.IN_PROGRESS, Decimal("0"))
    [pending] = answers.parse_feed(sim_requests.csv_body(1, [running]).get_data(), timepoint=0)[1]
    assert pending.status is ProviderStatus.PENDING


# -- the finished-rounds CSV ---------------------------------------------------------------


def test_a_feed_line_becomes_a_settled_row_with_exact_amounts_and_times() -> None:
    following, [row] = feed(HEADER, LINE)
    assert following == 1714564806000
    assert (row.row_id, row.bet_ref, row.status) == (
        "vs20olympgate:8812345", "vs20olympgate:8812345", ProviderStatus.SETTLED)
    assert (row.stake, row.payout, row.currency) == (Decimal("10.00"), Decimal("25.50"), "EUR")
    assert row.placed_at == datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
    assert row.settled_at == datetime(2024, 5, 1, 12, 0, 5, 250000, tzinfo=UTC)


def test_quoted_fields_may_hold_commas_quotes_and_newlines() -> None:
    quoted = LINE.replace("player-1", '"smith, ""jr""\nthe 2nd"')
    bad = LINE.replace("EUR", "EURO")
    hook = ProblemHook()
    _, [row, again] = feed(HEADER, quoted, bad, LINE, hook=hook)
    assert row.bet_ref == again.bet_ref == "vs20olympgate:8812345"
    assert hook.calls == [(PROVIDER, Problem.ROW_REFUSED)]  # the bad currency, line 5


def test_columns_are_read_by_the_header_in_any_order_extra_ones_ignored() -> None:
    columns = list(reversed(wire.COLUMNS))
    values = list(reversed(LINE.split(",")))
    _, [row] = feed(",".join([*columns, "balance"]), ",".join([*values, "99.00"]))
    assert (row.bet_ref, row.payout) == ("vs20olympgate:8812345", Decimal("25.50"))


def test_an_empty_feed_keeps_its_timepoint_with_or_without_a_header() -> None:
    assert feed(HEADER) == (1714564806000, [])
    assert feed() == (1714564806000, [])
    assert answers.parse_feed(b"timepoint=5", timepoint=5, provider=PROVIDER) == (5, [])


@pytest.mark.parametrize(("content", "named"), [
    ("", "line 1: expected timepoint=<ms>"),
    (f"{HEADER}\n{LINE}\n", "line 1: expected timepoint=<ms>"),
    (f"timepoint=-1\n{HEADER}\n", "line 1"),
    (f"timepoint=12\n{HEADER}\n", "line 1: timepoint 12 is before the requested 100"),
    (f"timepoint=100\n{HEADER.replace(',win', '')}\n", "line 2: the header lacks win"),
    (f"timepoint=100\n{HEADER},bet\n", "line 2: the header repeats a column"),
    (f"timepoint=100\n{HEADER}\n{AFTER_QUOTE}\n", "line 3: not CSV"),
    (f"timepoint=100\n{HEADER}\n{OPEN_QUOTE}\n", "not CSV"),
    ('{"error": 0, "description": "OK"}', "JSON without an error"),
    ('{"error": "x7"}', "error"),
    (b"timepoint=100\n\xff\xfe\n", "not UTF-8"),
])
def test_a_feed_that_is_no_feed_is_refused_whole_naming_the_line(content: str | bytes,
                                                                 named: str) -> None:
    assert named in refused_feed(content, requested=100)


@pytest.mark.parametrize(("line", "named"), [
    (LINE.replace("10.00", "-10.00"), "line 3, bet:"),
    (LINE.replace("25.50", "25.5e1"), "line 3, win:"),
    (LINE.replace(",C,", ",X,"), "line 3, status:"),
    (LINE.replace(",C,", ",F,"), "line 3, status:"),
    (LINE.replace("EUR", "eur"), "line 3, currency:"),
    (LINE.replace("8812345", "08812345"), "line 3, playSessionID:"),
    (LINE.replace("null", "0"), "line 3, parentSessionID:"),
    (LINE.replace("12:00:05.250", "25:00:05"), "line 3, endDate:"),
    (LINE.replace("05.250", "05.2500"), "line 3, endDate:"),
    (LINE.replace("12:00:00.000", "12:00:06"), "line 3, endDate: Value error, endDate is "
                                               "before startDate"),
    (LINE.replace("vs20olympgate", "vs20 olymp"), "line 3, gameID:"),
    (LINE.rsplit(",", 1)[0], "line 3: 12 fields, the header has 13"),
])
def test_a_malformed_row_is_skipped_naming_its_line_and_field(
    line: str, named: str, caplog: pytest.LogCaptureFixture,
) -> None:
    hook = ProblemHook()
    with caplog.at_level(logging.WARNING, logger="betguard.providers.problems"):
        _, rows = feed(HEADER, line, LINE.replace("8812345", "8812399"), hook=hook)
    assert [row.row_id for row in rows] == ["vs20olympgate:8812399"]
    assert hook.calls == [(PROVIDER, Problem.ROW_REFUSED)]
    assert f"provider pp: gamerounds/finished: row_refused: {named}" in caplog.text


# -- references, cursors, options ----------------------------------------------------------


def test_a_round_reference_is_the_game_and_the_round() -> None:
    assert wire.split_ref("vs20olympgate:8812345") == ("vs20olympgate", "8812345")
    assert wire.split_ref("G_1:9223372036854775807") == ("G_1", "9223372036854775807")
    assert sim_rounds.split_ref("vs20olympgate:8812345") == ("vs20olympgate", 8812345)


@pytest.mark.parametrize("ref", ["8812345", "vs20:", ":8812345", "vs20:0", "vs20:08812345",
                                 "vs20:12a", "vs-20:1", "vs20:1:2", "vs20:9223372036854775808",
                                 "vs20: 1", "vs20:\u0661\u0662"])
def test_a_reference_that_is_no_round_is_refused_by_adapter_and_simulator(ref: str) -> None:
    with pytest.raises(ValueError, match="bet_ref"):
        wire.split_ref(ref)
    assert sim_rounds.split_ref(ref) is None
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
    assert answers.timepoint_of(None) == 0
    assert answers.timepoint_of("1714564806000") == 1714564806000
    for cursor in ("", "-1", "1.5", "12a", "9" * 16, "\u0661"):
        with pytest.raises(ValueError, match="timepoint"):
            answers.timepoint_of(cursor)


def test_without_environments_each_data_type_is_a_feed_of_the_base_url() -> None:
    built = build_provider("pragmatic", ProviderClientSettings(
        name=PROVIDER, base_url="http://127.0.0.1:9", secret="s", supports_batch=True,
        options={"secure_login": "l", "data_types": ["RNG", "LC"]}))
    assert built.capabilities == {Capability.STATUS, Capability.CANCEL, Capability.HISTORY}
    assert built.supports_batch is False and built.feeds == ("RNG", "LC")
    assert provider().feeds == ("RNG",)
    options = pragmatic._options(PROVIDER, {"secure_login": "l", "data_types": ["LC"]})
    [live] = pragmatic.feeds_of(options, ("http://a", "http://fallback"))
    assert (live.name, live.urls, live.data_type) == ("LC", ("http://a", "http://fallback"), "LC")
    with pytest.raises(ProviderRejected, match="no feed 'asia'"):
        provider().fetch_history("asia", None)
    with pytest.raises(ProviderRejected, match="no batch"):
        provider().get_statuses(["vs20:1"])


def test_each_environment_and_data_type_is_a_feed_of_that_environments_host() -> None:
    options = pragmatic._options(PROVIDER, {
        "secure_login": "l", "data_types": ["RNG", "LC"],
        "environments": {"prod-sg12": "https://api-sg12.ppgames.net/",
                         "prod-2409": ["https://api-2409.example", "https://mirror.example"]}})
    feeds = pragmatic.feeds_of(options, ("https://entry.example",))
    assert [(f.name, f.urls, f.data_type) for f in feeds] == [
        ("prod-sg12/RNG", ("https://api-sg12.ppgames.net",), "RNG"),
        ("prod-sg12/LC", ("https://api-sg12.ppgames.net",), "LC"),
        ("prod-2409/RNG", ("https://api-2409.example", "https://mirror.example"), "RNG"),
        ("prod-2409/LC", ("https://api-2409.example", "https://mirror.example"), "LC")]
    with pytest.raises(ValueError, match="environment prod-sg12: its URLs must use base_url's "
                                         "scheme \\(http\\)"):
        pragmatic.feeds_of(options, ("http://entry.example",), name=PROVIDER)


@pytest.mark.parametrize(("options", "named"), [
    ({"secure_login": "l", "operator_token": "x", "colour": 1}, "colour, operator_token"),
    ({"secure_login": "l", "domains": ["eu"]}, "unknown pragmatic option\\(s\\): domains"),
    ({}, "secure_login is required"),
    (None, "secure_login is required"),
    ({"secure_login": ""}, "option secure_login:"),
    ({"secure_login": "a b"}, "option secure_login:"),
    ({"secure_login": "l", "data_types": []}, "option data_types:"),
    ({"secure_login": "l", "data_types": "RNG"}, "option data_types:"),
    ({"secure_login": "l", "data_types": ["rng"]}, "option data_types: Value error, each"),
    ({"secure_login": "l", "data_types": ["LC", "LC"]}, "option data_types: Value error, "
                                                        "names one twice"),
    ({"secure_login": "l", "environments": {}}, "option environments: Value error, names no"),
    ({"secure_login": "l", "environments": {"a/b": "http://h"}}, "environment 'a/b'"),
    ({"secure_login": "l", "environments": {"eu": "ftp://h"}}, "environment eu: a data host"),
    ({"secure_login": "l", "environments": {"eu": "http://h?x=1"}}, "environment eu:"),
    ({"secure_login": "l", "environments": {"eu": []}}, "environment eu:"),
    ({"secure_login": "l", "timepoint_overlap_ms": -1}, "option timepoint_overlap_ms:"),
    ({"secure_login": "l", "hash_values": "encoded"}, "option hash_values:"),
    ({"secure_login": "l", "empty_params": "keep"}, "option empty_params:"),
    ({"secure_login": "l", "jackpot": "yes"}, "option jackpot:"),
])
def test_unknown_or_malformed_options_are_refused_naming_them(options: Any, named: str) -> None:
    with pytest.raises(ValueError, match=named):
        provider(options=options)


def test_the_options_defaults_are_the_safer_choices() -> None:
    options = pragmatic._options(PROVIDER, {"secure_login": "l"})
    assert (options.data_types, options.environments, options.round_types) == (
        ["RNG"], None, ["R", "F"])
    assert (options.timepoint_overlap_ms, options.hash_values, options.empty_params,
            options.jackpot) == (1000, "raw", "omit", "refuse")
    assert options.cancel_meanings() == {120: "finished", 8: "not_fenced"}


def test_a_missing_secret_or_no_attempt_is_refused() -> None:
    with pytest.raises(ValueError, match="secret"):
        provider(secret="")
    with pytest.raises(ValueError, match="attempts"):
        provider(attempts=0)


@pytest.mark.parametrize(("number", "taken"), [
    ("1", True), ("9", True), ("10", True), ("8812345", True),
    (str(2**63 - 1), True), ("9" * 18, True), ("1" + "0" * 18, True),
    (str(2**63), False), ("9" * 19, False), ("1" + "0" * 19, False),
    ("0", False), ("007", False), ("", False), ("-1", False), ("1.0", False),
    ("\u0661\u0662", False),  # digits, but not ASCII ones
])
def test_a_round_id_is_exactly_a_positive_integer_below_2_63_by_one_pattern(
    number: str, taken: bool,
) -> None:
    assert (re.fullmatch(wire.ROUND_ID, number) is not None) is taken
    if taken:
        assert wire.round_ref("vs20olympgate", number) == f"vs20olympgate:{number}"
    else:
        with pytest.raises(wire.RoundFieldError) as refused:
            wire.round_ref("vs20olympgate", number)
        assert refused.value.field == "round_id"


def test_the_pattern_generator_is_exact_on_every_integer_near_its_bounds() -> None:
    for bound in (1, 9, 10, 19, 90, 99, 100, 101, 12345, 2**63 - 1):
        pattern = re.compile(wire.integers_up_to(bound))
        near = {*range(0, 250), bound - 1, bound, bound + 1, bound * 10, bound // 10}
        wrong = [n for n in near if (pattern.fullmatch(str(n)) is not None) != (1 <= n <= bound)]
        assert wrong == [], (bound, wrong)


def test_the_documented_rule_of_a_pragmatic_bets_fields_is_the_intakes() -> None:
    naming = ROUND_NAMES["pragmatic"]

    assert naming.fields == {"game_id": wire.GAME_ID, "round_id": wire.ROUND_ID}
    assert naming.name("vs20olympgate", "8812345") == "vs20olympgate:8812345"
    with pytest.raises(wire.RoundFieldError) as refused:
        naming.name("vs20-olympgate", "8812345")
    assert refused.value.field == "game_id"
