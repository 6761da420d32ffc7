"""The Pragmatic dialect end to end: the adapter talking to the simulator over real HTTP.
The incomplete-rounds feed says "pending", cancelRound cancels, refuses completed rounds
and fences rounds not known yet, the finished-rounds CSV lags, is read again from a
little before its cursor, is one feed per environment and data type, authenticates with
login and password, shows in-progress and void rows, skips a bad row and uses the rest,
and the environments list names the data hosts.

The simulator is shared with the other tests (the beat pulls its environments "main" and
"asia"): every test uses its own rounds, players and environments, and restores any knob
it sets.
"""

from __future__ import annotations

import secrets
import time
from decimal import Decimal
from typing import Any

import pytest

from betguard.providers.base import HistoryRow, ProviderStatus
from betguard.providers.client_settings import ProviderClientSettings
from betguard.providers.errors import (
    ProviderInvalidResponse,
    ProviderRejected,
    ProviderUnavailable,
)
from betguard.providers.pragmatic import PragmaticProvider
from betguard.providers.pragmatic_wire import FEED_PATH, INCOMPLETE_PATH
from betguard.providers.problems import Problem
from tests.integration.harness import Stack, dead_url, fallbacks_heard, wait_until
from tests.support.providers import ProblemHook

pytestmark = pytest.mark.integration

LOGIN = "test-login"
LAG = 2.0  # "finished rounds show in the feed a while later", scaled down


def env_url(stack: Stack, env: str) -> str:
    return stack.pragmatic_sim_url if env == "main" else f"{stack.pragmatic_sim_url}/env/{env}"


def adapter(stack: Stack, *envs: str, secret: str | None = None, login: str = LOGIN,
            hook: ProblemHook | None = None, options: dict[str, Any] | None = None,
            **settings: Any) -> PragmaticProvider:
    """An adapter whose environments are ``envs`` (none: the base URL is the data host)."""
    settings.setdefault("base_url", stack.pragmatic_sim_url)
    given: dict[str, Any] = {"secure_login": login, **(options or {})}
    if envs:
        given["environments"] = {env: env_url(stack, env) for env in envs}
    return PragmaticProvider(ProviderClientSettings(
        name="pragmatic", secret=secret or stack.provider_secret("pragmatic"), read_timeout=10.0,
        options=given, report_problem=hook, **settings))


def new_ref(game: str = "vs20olympgate") -> str:
    return f"{game}:{10**11 + secrets.randbelow(9 * 10**11)}"


def new_env() -> str:
    return f"t-{secrets.token_hex(5)}"


def new_player() -> str:
    return f"player-{secrets.token_hex(5)}"



def register(stack: Stack, ref: str, *, player: str | None, env: str, expect: int = 201,
             **spec: Any) -> dict[str, Any]:
    """A round the provider plays for ``player`` (None: registered without one) whose
    rows go to environment ``env``."""
    body = {"bet_ref": ref, "stake": "10.00", "currency": "EUR", "lag": 0, "environment": env,
            **spec}
    if player is not None:
        body["player_id"] = player
    decided: dict[str, Any] = stack.pragmatic_sim.call("POST", "/_sim/pragmatic/rounds", body,
                                                       expect=expect)
    return decided



def rows_of(provider: PragmaticProvider, feed: str, ref: str,
            cursor: str | None = None) -> list[HistoryRow]:
    return [row for row in provider.fetch_history(feed, cursor).rows if row.bet_ref == ref]


def wait_for_rows(provider: PragmaticProvider, feed: str, ref: str, count: int = 1,
                  status: ProviderStatus | None = None) -> list[HistoryRow]:
    found: list[HistoryRow] = wait_until(
        lambda: (rows := [row for row in rows_of(provider, feed, ref)
                          if status is None or row.status is status])
        and len(rows) >= count and rows,
        30, lambda: f"no {count} row(s) of round {ref} in feed {feed}")
    return found


def fact(stack: Stack, ref: str) -> dict[str, Any]:
    truth: dict[str, Any] = stack.pragmatic_sim.call("GET", "/_sim/truth")["bets"][ref]
    return truth


# -- status: incomplete rounds -------------------------------------------------------------


def test_a_pending_round_is_listed_incomplete_and_shows_in_the_feed_only_after_the_lag(
    stack: Stack,
) -> None:
    env, player, ref = new_env(), new_player(), new_ref()
    provider = adapter(stack, env)
    feed = f"{env}/RNG"
    with stack.pragmatic_sim.knobs(feed_lag_range=[LAG, LAG]):
        register(stack, ref, player=player, env=env, fate="delayed", delay=1.5,
                 stake="0.10", payout="0.30")
        pending = provider.get_status(ref, player)
        assert (pending.status, pending.via) == (ProviderStatus.PENDING, None)
        assert provider.get_status(ref, new_player()).status is ProviderStatus.UNKNOWN
        assert adapter(stack).get_status(ref, player).status is ProviderStatus.UNKNOWN

        wait_until(lambda: provider.get_status(ref, player).status is ProviderStatus.UNKNOWN,
                   30, lambda: f"round {ref} stayed incomplete")
        assert fact(stack, ref)["status_now"] == "settled"
        assert rows_of(provider, feed, ref) == []  # finished, not in the feed yet
        assert stack.pragmatic_sim.call("GET", f"/_sim/pragmatic/rounds/{ref}")["hidden"] == 1

        [row] = wait_for_rows(provider, feed, ref)
    assert (row.status, row.payout, row.stake, row.currency) == (
        ProviderStatus.SETTLED, Decimal("0.30"), Decimal("0.10"), "EUR")
    assert row.row_id == ref and row.placed_at is not None and row.settled_at is not None
    # the row entered the feed (its timepoint) at least the lag after the round finished
    [listed] = stack.pragmatic_sim.call("GET", f"/_sim/pragmatic/rounds/{ref}")["rows"]
    assert listed["timepoint"] >= row.version // 2 + LAG * 1000 - 1


def test_a_round_registered_without_a_player_is_listed_for_any_player(stack: Stack) -> None:
    ref = new_ref("vswaysdogs")
    stack.pragmatic_sim.call("POST", "/_sim/bets", {"bet_ref": ref, "stake": "1.00",
                                                    "currency": "EUR", "fate": "never", "lag": 0},
                             expect=201)
    provider = adapter(stack)
    assert provider.get_status(ref, new_player()).status is ProviderStatus.PENDING
    assert provider.get_status(ref, "player-1").status is ProviderStatus.PENDING
    assert fact(stack, ref)["queries"] == 0  # a per-player call names no round


def test_a_live_casino_round_is_found_only_by_asking_for_live_casino(stack: Stack) -> None:
    env, player, ref = new_env(), new_player(), new_ref("lcbaccarat")
    register(stack, ref, player=player, env=env, fate="never", data_type="LC")
    slots_only = adapter(stack, env)
    both = adapter(stack, env, options={"data_types": ["RNG", "LC"]})
    assert slots_only.get_status(ref, player).status is ProviderStatus.UNKNOWN
    assert both.get_status(ref, player).status is ProviderStatus.PENDING
    assert both.feeds == (f"{env}/RNG", f"{env}/LC")
    both.cancel(ref, player)
    [void] = wait_for_rows(both, f"{env}/LC", ref)
    assert void.status is ProviderStatus.CANCELLED
    assert rows_of(both, f"{env}/RNG", ref) == []


# -- cancelRound ---------------------------------------------------------------------------


def test_cancel_round_cancels_a_pending_round_and_refuses_a_completed_one(stack: Stack) -> None:
    env, player = new_env(), new_player()
    running, done = new_ref(), new_ref()
    register(stack, running, player=player, env=env, fate="never", stake="4.00")
    register(stack, done, player=player, env=env, fate="returned", payout="2.00")
    provider = adapter(stack, env)

    cancelled = provider.cancel(running, player)
    assert cancelled.accepted
    assert (cancelled.status.bet_ref, cancelled.status.status) == (running,
                                                                   ProviderStatus.CANCELLED)
    assert provider.cancel(running, player).accepted  # cancelling again changes nothing
    assert provider.get_status(running, player).status is ProviderStatus.UNKNOWN
    running_fact = fact(stack, running)
    assert (running_fact["cancelled"], running_fact["fenced"], running_fact["cancels"]) == (
        True, False, 2)

    completed = provider.cancel(done, player)
    assert not completed.accepted
    assert (completed.status.status, completed.status.payout) == (ProviderStatus.FINISHED, None)
    assert fact(stack, done)["settled"] is True

    [void_row] = wait_for_rows(provider, f"{env}/RNG", running)
    assert (void_row.status, void_row.payout, void_row.stake) == (
        ProviderStatus.CANCELLED, None, Decimal("4.00"))
    [listed] = stack.pragmatic_sim.call("GET", f"/_sim/pragmatic/rounds/{running}")["rows"]
    assert listed["status"] == "V"  # void, as public clients read it
    [settled_row] = wait_for_rows(provider, f"{env}/RNG", done)
    assert (settled_row.status, settled_row.payout) == (ProviderStatus.SETTLED, Decimal("2.00"))


def test_another_players_round_is_not_cancelled_and_stays_pending(stack: Stack) -> None:
    env, player, ref = new_env(), new_player(), new_ref()
    register(stack, ref, player=player, env=env, fate="never")
    provider = adapter(stack, env)
    intruder = provider.cancel(ref, new_player())
    assert (intruder.accepted, intruder.status.status) == (False, ProviderStatus.UNKNOWN)
    assert provider.get_status(ref, player).status is ProviderStatus.PENDING
    assert fact(stack, ref)["cancelled"] is False


def test_a_cancel_of_a_round_not_known_yet_fences_it(stack: Stack) -> None:
    env, player, ref = new_env(), new_player(), new_ref()
    provider = adapter(stack, env)

    fenced = provider.cancel(ref, player)
    assert fenced.accepted and fenced.status.status is ProviderStatus.CANCELLED
    assert ref in stack.pragmatic_sim.call("GET", "/_sim/truth")["tombstones"]

    decided = register(stack, ref, player=player, env=env, fate="returned", payout="9.00")
    assert decided["fenced"] is True and decided["payout"] is None
    assert (fact(stack, ref)["cancelled"], fact(stack, ref)["settled"]) == (True, False)
    assert provider.get_status(ref, player).status is ProviderStatus.UNKNOWN
    # a round the provider never played has no row; a later one in the environment does
    later = new_ref()
    register(stack, later, player=player, env=env, fate="returned", payout="1.00")
    wait_for_rows(provider, f"{env}/RNG", later)
    assert rows_of(provider, f"{env}/RNG", ref) == []


def test_without_tombstones_a_cancel_of_an_unknown_round_fences_nothing(stack: Stack) -> None:
    env, player, ref = new_env(), new_player(), new_ref()
    provider = adapter(stack, env)
    with stack.pragmatic_sim.knobs(tombstones=False):
        missing = provider.cancel(ref, player)
    assert (missing.accepted, missing.status.status) == (False, ProviderStatus.UNKNOWN)
    decided = register(stack, ref, player=player, env=env, fate="never")
    assert decided["fenced"] is False
    assert provider.get_status(ref, player).status is ProviderStatus.PENDING


def test_an_unknown_cancel_code_is_no_refusal_and_is_counted(stack: Stack) -> None:
    env, player, ref = new_env(), new_player(), new_ref()
    register(stack, ref, player=player, env=env, fate="never")
    hook = ProblemHook()
    provider = adapter(stack, env, hook=hook)
    stack.pragmatic_sim.call("POST", "/_sim/pragmatic/next_code", {"codes": [17]})
    with pytest.raises(ProviderInvalidResponse, match="unexpected code 17"):
        provider.cancel(ref, player)
    assert hook.calls == [("pragmatic", Problem.UNKNOWN_CODE)]
    stack.pragmatic_sim.call("POST", "/_sim/pragmatic/next_code", {"codes": [7]})
    with pytest.raises(ProviderRejected, match="error 7 \\(bad parameters\\)"):
        provider.cancel(ref, player)
    assert fact(stack, ref)["cancelled"] is False
    assert provider.cancel(ref, player).accepted  # the next call is answered as usual


# -- the finished-rounds feed --------------------------------------------------------------


def test_a_pull_from_the_returned_timepoint_reads_again_only_what_the_overlap_covers(
    stack: Stack,
) -> None:
    env, player = new_env(), new_player()
    refs = [new_ref() for _ in range(3)]
    for ref in refs:
        register(stack, ref, player=player, env=env, fate="returned", payout="2.00")
    exact = adapter(stack, env, options={"timepoint_overlap_ms": 0})
    feed = f"{env}/RNG"
    first = wait_until(lambda: (page := exact.fetch_history(feed, None)) and
                       len(page.rows) == 3 and page, 30, lambda: "three rows never came")
    assert {row.bet_ref for row in first.rows} == set(refs) and not first.more
    boundary = first.rows[-1]

    second = exact.fetch_history(feed, first.cursor)
    assert second.rows == [boundary] and second.cursor == first.cursor  # inclusive boundary

    overlapping = adapter(stack, env, options={"timepoint_overlap_ms": 60_000})
    again = overlapping.fetch_history(feed, first.cursor)
    assert again.rows == first.rows  # the minute before the cursor is read again
    assert again.cursor == first.cursor  # and the cursor never moves back

    newer = new_ref()
    register(stack, newer, player=player, env=env, fate="returned", payout="3.00")
    third = wait_until(lambda: (page := exact.fetch_history(feed, second.cursor)) and
                       len(page.rows) == 2 and page, 30, lambda: f"round {newer} never came")
    assert third.rows[0] == boundary  # the same row: same id, same version
    assert third.rows[1].bet_ref == newer and int(third.cursor) > int(first.cursor)


def test_an_in_progress_row_is_pending_until_its_result_replaces_it(stack: Stack) -> None:
    env, player, ref = new_env(), new_player(), new_ref()
    provider = adapter(stack, env)
    register(stack, ref, player=player, env=env, fate="delayed", delay=1.5, payout="4.00",
             in_progress_row=True)
    [running] = wait_for_rows(provider, f"{env}/RNG", ref)
    assert (running.status, running.payout, running.settled_at) == (
        ProviderStatus.PENDING, None, None)
    [done] = wait_for_rows(provider, f"{env}/RNG", ref, status=ProviderStatus.SETTLED)
    assert done.row_id == running.row_id and done.version > running.version
    assert done.payout == Decimal("4.00")


def test_a_bad_row_is_skipped_counted_and_the_rest_of_the_page_is_used(
    stack: Stack, caplog: pytest.LogCaptureFixture,
) -> None:
    env, player, before, after = new_env(), new_player(), new_ref(), new_ref()
    hook = ProblemHook()
    provider = adapter(stack, env, hook=hook)
    register(stack, before, player=player, env=env, fate="returned", payout="1.00")
    wait_until(lambda: stack.pragmatic_sim.call("GET", f"/_sim/pragmatic/rounds/{before}")["rows"],
               30, lambda: f"round {before} never entered the feed")
    bad = ["1", "p", "vs20olympgate", "123456789", "null", "2025-02-20 03:28:03",
           "2025-02-20 03:28:04", "Q", "R", "0.50", "0.00", "EUR", "0.00"]
    stack.pragmatic_sim.call("POST", "/_sim/pragmatic/lines", {"environment": env, "fields": bad},
                             expect=201)
    register(stack, after, player=player, env=env, fate="returned", payout="2.00")
    wait_until(lambda: stack.pragmatic_sim.call("GET", f"/_sim/pragmatic/rounds/{after}")["rows"],
               30, lambda: f"round {after} never entered the feed")

    page = provider.fetch_history(f"{env}/RNG", None)
    assert [row.bet_ref for row in page.rows] == [before, after]
    assert hook.calls == [("pragmatic", Problem.ROW_REFUSED)]
    assert f"provider pragmatic: gamerounds/finished {env}/RNG: row_refused: line 4, " \
           "status: Input should be 'C', 'I' or 'V'" in caplog.text


def test_the_feed_called_again_within_the_min_interval_is_told_to_come_back_later(
    stack: Stack,
) -> None:
    env, other, player, ref = new_env(), new_env(), new_player(), new_ref()
    register(stack, ref, player=player, env=env, fate="returned", payout="1.00")
    provider = adapter(stack, env, other)
    wait_until(lambda: stack.pragmatic_sim.call("GET", f"/_sim/pragmatic/rounds/{ref}")["rows"], 30,
               lambda: f"round {ref} never entered the feed")  # no feed call of it yet
    with stack.pragmatic_sim.knobs(feed_min_interval=30):
        first = provider.fetch_history(f"{env}/RNG", None)
        with pytest.raises(ProviderUnavailable) as refused:
            provider.fetch_history(f"{env}/RNG", first.cursor)
        elsewhere = provider.fetch_history(f"{other}/RNG", None)  # each feed has its limit
    assert type(refused.value) is ProviderUnavailable  # later, not an invalid answer
    assert "error 100" in str(refused.value) and "called too often" in str(refused.value)
    assert elsewhere.rows == []
    # the refused call moved nothing: the cursor it was given still reads from there
    again = provider.fetch_history(f"{env}/RNG", first.cursor)
    assert again.cursor == first.cursor and again.rows == first.rows[-1:]


def test_rounds_of_two_environments_are_read_from_each_ones_own_host(stack: Stack) -> None:
    east, west, player = new_env(), new_env(), new_player()
    in_east, in_west = new_ref(), new_ref()
    since = time.time()
    start = str(int(since * 1000) - 1000)
    register(stack, in_east, player=player, env=east, fate="returned", payout="1.00")
    register(stack, in_west, player=player, env=west, fate="never")
    provider = adapter(stack, east, west)
    assert provider.feeds == (f"{east}/RNG", f"{west}/RNG")

    wait_for_rows(provider, f"{east}/RNG", in_east)
    assert provider.get_status(in_west, player).status is ProviderStatus.PENDING
    assert rows_of(provider, f"{west}/RNG", in_east) == []
    main = adapter(stack)
    assert main.feeds == ("RNG",)
    assert rows_of(main, "RNG", in_east, start) == []  # not in the base URL's environment
    logged = stack.pragmatic_sim.call("GET", f"/_sim/log?since={since}")["requests"]
    paths = {call["path"] for call in logged}
    assert {f"/env/{east}{FEED_PATH}", f"/env/{west}{INCOMPLETE_PATH}", FEED_PATH} <= paths
    # both rounds are one API's: cancel goes to the base URL whatever the environment
    assert provider.cancel(in_east, player).status.status is ProviderStatus.FINISHED


def test_the_environments_list_names_the_hosts_to_configure(stack: Stack) -> None:
    env, player, ref = new_env(), new_player(), new_ref()
    register(stack, ref, player=player, env=env, fate="returned", payout="7.00")
    listed = {item.envName: item.apiDomain for item in adapter(stack).list_environments()}
    host = stack.pragmatic_sim_url.split("://", 1)[1]
    assert listed["main"] == host and listed[env] == f"{host}/env/{env}"
    configured = adapter(stack, options={"environments": {
        name: f"http://{domain}" for name, domain in listed.items()}})
    [row] = wait_for_rows(configured, f"{env}/RNG", ref)
    assert row.payout == Decimal("7.00")
    with pytest.raises(ProviderRejected, match="error 5 \\(invalid hash\\)"):
        adapter(stack, secret="not-the-secret").list_environments()


def test_an_altered_win_and_a_duplicate_row_show_in_the_feed(stack: Stack) -> None:
    env, player, ref = new_env(), new_player(), new_ref()
    register(stack, ref, player=player, env=env, fate="returned", payout="5.00")
    provider = adapter(stack, env)
    feed = f"{env}/RNG"
    [first] = wait_for_rows(provider, feed, ref)

    stack.pragmatic_sim.call("POST", f"/_sim/pragmatic/rounds/{ref}/win", {"win": "6.50"})
    altered = wait_until(
        lambda: next((row for row in rows_of(provider, feed, ref) if row.payout != first.payout),
                     None), 30, lambda: f"round {ref} was never re-paid")
    assert (altered.row_id, altered.payout) == (first.row_id, Decimal("6.50"))
    assert altered.version > first.version  # a newer state of the same row

    added = stack.pragmatic_sim.call("POST", f"/_sim/pragmatic/rounds/{ref}/duplicate",
                                     {"win": "5.00"}, expect=201)
    rows = wait_for_rows(provider, feed, ref, count=2)
    second = next(row for row in rows if row.row_id != first.row_id)
    assert second.row_id == added["row"] and second.bet_ref == ref
    assert (second.status, second.payout) == (ProviderStatus.SETTLED, Decimal("5.00"))


# -- authentication, refusals, outages, fallbacks ------------------------------------------


def test_a_wrong_secret_or_login_is_refused(stack: Stack) -> None:
    env, player, ref = new_env(), new_player(), new_ref()
    register(stack, ref, player=player, env=env, fate="never")
    wrong = adapter(stack, env, secret="not-the-secret")
    with pytest.raises(ProviderRejected, match="error 5 \\(invalid hash\\)"):
        wrong.cancel(ref, player)
    for call in (lambda: wrong.get_status(ref, player),
                 lambda: wrong.fetch_history(f"{env}/RNG", None)):
        with pytest.raises(ProviderRejected, match="error 4 \\(authentication failed\\)"):
            call()  # DataFeeds: login and password, no hash
    with pytest.raises(ProviderRejected, match="error 4 \\(authentication failed\\)"):
        adapter(stack, env, login="another-login").get_status(ref, player)
    assert fact(stack, ref)["cancelled"] is False  # the refused cancel did nothing
    assert adapter(stack, env).get_status(ref, player).status is ProviderStatus.PENDING


def test_hashing_url_encoded_values_is_a_choice_the_provider_must_share(stack: Stack) -> None:
    env, player, ref = new_env(), f"p@{secrets.token_hex(4)}:x", new_ref()
    register(stack, ref, player=player, env=env, fate="never")
    encoded = adapter(stack, env, options={"hash_values": "urlencoded"})
    with pytest.raises(ProviderRejected, match="error 5"):
        encoded.cancel(ref, player)  # the simulator hashes raw values, as the default
    assert adapter(stack, env).cancel(ref, player).accepted


def test_the_password_never_shows_in_an_error(stack: Stack) -> None:
    dead = dead_url()
    secret = stack.provider_secret("pragmatic")
    provider = adapter(stack, base_url=dead, attempts=1)
    for call in (lambda: provider.fetch_history("RNG", None),
                 lambda: provider.get_status(new_ref(), "p-1")):
        with pytest.raises(ProviderUnavailable) as down:
            call()
        assert "no answer" in str(down.value) and "[redacted]" in str(down.value)
        assert secret not in str(down.value) and down.value.__cause__ is not None
        assert secret not in repr(down.value.__cause__)
        assert down.value.__cause__.__cause__ is None  # the transport's own text is gone


def test_an_outage_is_no_answer_and_an_internal_error_is_later(stack: Stack) -> None:
    env, player, ref = new_env(), new_player(), new_ref()
    register(stack, ref, player=player, env=env, fate="never")
    provider = adapter(stack, env, attempts=1)
    with stack.pragmatic_sim.knobs(outage=True), pytest.raises(ProviderUnavailable) as down:
        provider.get_status(ref, player)
    assert type(down.value) is ProviderUnavailable and "HTTP 503" in str(down.value)

    stack.pragmatic_sim.call("POST", "/_sim/faults", {"bet_ref": ref, "fault": "error_with_200"},
                             expect=201)
    with pytest.raises(ProviderUnavailable) as later:
        provider.cancel(ref, player)
    assert type(later.value) is ProviderUnavailable and "error 100" in str(later.value)
    assert fact(stack, ref)["cancelled"] is False


def test_a_fallback_url_answers_when_the_primary_gives_no_answer(stack: Stack) -> None:
    dead = dead_url()
    player, ref = new_player(), new_ref()
    register(stack, ref, player=player, env="main", fate="returned", payout="3.00")
    provider = adapter(stack, base_url=dead, fallback_urls=(stack.pragmatic_sim_url,),
                       attempts=1)
    with fallbacks_heard() as heard:
        answered = provider.cancel(ref, player)
    assert (answered.status.status, answered.status.via) == (ProviderStatus.FINISHED,
                                                             stack.pragmatic_sim_url)
    assert heard == [("pragmatic", stack.pragmatic_sim_url)]  # counted in the metrics
    [row] = wait_for_rows(provider, "RNG", ref)  # the feed at the fallback too
    assert row.payout == Decimal("3.00")
    env = new_env()
    mirrored = adapter(stack, options={"environments": {env: [dead, env_url(stack, env)]}},
                       attempts=1)
    assert mirrored.fetch_history(f"{env}/RNG", None).rows == []  # its fallback answered
    with pytest.raises(ProviderUnavailable, match="no answer"):
        adapter(stack, base_url=dead, attempts=2).fetch_history("RNG", None)
