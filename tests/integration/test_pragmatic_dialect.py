"""The Pragmatic-like dialect end to end: the adapter talking to the simulator over real
HTTP. Incomplete rounds say "pending", cancelRound cancels, refuses completed rounds and
fences rounds not known yet, the finished-rounds CSV lags, pages inclusively by its
timepoint, is split over data domains each called on its own, refuses callers that come
too often and wrong credentials, and shows the provider's own corrections.

The simulator is shared with the other tests (the beat pulls its domain "main"): every
test uses its own rounds, players and data domains, and restores any knob it sets.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import socket
import time
from decimal import Decimal
from typing import Any

import pytest

from betguard.providers.base import HistoryRow, ProviderStatus
from betguard.providers.client_settings import ProviderClientSettings
from betguard.providers.errors import ProviderRejected, ProviderUnavailable
from betguard.providers.pragmatic import FEED_PATH, PragmaticProvider, millis
from tests.integration.harness import Stack, sim_call, sim_knobs, wait_until

pytestmark = pytest.mark.integration

LOGIN = "test-login"
LAG = 2.0  # "finished rounds show in the feed a while later", scaled down


def secret_of(stack: Stack) -> str:
    return str(json.loads(stack.env["BETGUARD_PROVIDER_SECRETS"])["pragmatic"])


def adapter(stack: Stack, *domains: str, secret: str | None = None, login: str = LOGIN,
            **settings: Any) -> PragmaticProvider:
    settings.setdefault("base_url", stack.pragmatic_sim_url)
    options: dict[str, Any] = {"secure_login": login}
    if domains:
        options["domains"] = list(domains)
    return PragmaticProvider(ProviderClientSettings(
        name="pragmatic", secret=secret or secret_of(stack), read_timeout=10.0,
        options=options, **settings))


def new_ref(game: str = "vs20olympgate") -> str:
    return f"{game}:{10**11 + secrets.randbelow(9 * 10**11)}"


def new_domain() -> str:
    return f"t-{secrets.token_hex(5)}"


def new_player() -> str:
    return f"player-{secrets.token_hex(5)}"


def sim(stack: Stack, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
    return sim_call(stack.pragmatic_sim_url, method, path, body, expect)


def register(stack: Stack, ref: str, *, player: str | None, domain: str, expect: int = 201,
             **spec: Any) -> dict[str, Any]:
    """A round the provider plays for ``player`` (None: registered without one) whose
    finished row goes to ``domain``."""
    body = {"bet_ref": ref, "stake": "10.00", "currency": "EUR", "lag": 0, "domain": domain,
            **spec}
    if player is not None:
        body["player_id"] = player
    decided: dict[str, Any] = sim(stack, "POST", "/_sim/pragmatic/rounds", body, expect=expect)
    return decided


def knobs(stack: Stack, **changes: Any) -> contextlib.AbstractContextManager[None]:
    return sim_knobs(stack.pragmatic_sim_url, **changes)


def rows_of(provider: PragmaticProvider, domain: str, ref: str,
            cursor: str | None = None) -> list[HistoryRow]:
    return [row for row in provider.fetch_history(domain, cursor).rows if row.bet_ref == ref]


def wait_for_rows(provider: PragmaticProvider, domain: str, ref: str,
                  count: int = 1) -> list[HistoryRow]:
    found: list[HistoryRow] = wait_until(
        lambda: (rows := rows_of(provider, domain, ref)) and len(rows) >= count and rows,
        30, lambda: f"no {count} row(s) of round {ref} in domain {domain}")
    return found


def fact(stack: Stack, ref: str) -> dict[str, Any]:
    truth: dict[str, Any] = sim(stack, "GET", "/_sim/truth")["bets"][ref]
    return truth


# -- status: incomplete rounds -------------------------------------------------------------


def test_a_pending_round_is_listed_incomplete_and_shows_in_the_feed_only_after_the_lag(
    stack: Stack,
) -> None:
    domain, player, ref = new_domain(), new_player(), new_ref()
    provider = adapter(stack, domain)
    with knobs(stack, feed_lag_range=[LAG, LAG]):
        register(stack, ref, player=player, domain=domain, fate="delayed", delay=1.5,
                 stake="0.10", payout="0.30")
        pending = provider.get_status(ref, player)
        assert (pending.status, pending.via) == (ProviderStatus.PENDING, None)
        assert provider.get_status(ref, new_player()).status is ProviderStatus.UNKNOWN

        wait_until(lambda: provider.get_status(ref, player).status is ProviderStatus.UNKNOWN,
                   30, lambda: f"round {ref} stayed incomplete")
        assert fact(stack, ref)["status_now"] == "settled"
        assert rows_of(provider, domain, ref) == []  # finished, not in the feed yet
        assert sim(stack, "GET", f"/_sim/pragmatic/rounds/{ref}")["hidden"] == 1

        [row] = wait_for_rows(provider, domain, ref)
    assert (row.status, row.payout, row.stake, row.currency) == (
        ProviderStatus.SETTLED, Decimal("0.30"), Decimal("0.10"), "EUR")
    assert row.row_id == ref and row.placed_at is not None and row.settled_at is not None
    assert row.version == millis(row.settled_at)
    # the row entered the feed (its timepoint) at least the lag after the round finished
    [listed] = sim(stack, "GET", f"/_sim/pragmatic/rounds/{ref}")["rows"]
    assert listed["timepoint"] >= row.version + LAG * 1000 - 1


def test_a_round_registered_without_a_player_is_listed_for_any_player(stack: Stack) -> None:
    ref = new_ref("vswaysdogs")
    sim(stack, "POST", "/_sim/bets", {"bet_ref": ref, "stake": "1.00", "currency": "EUR",
                                      "fate": "never", "lag": 0}, expect=201)
    provider = adapter(stack)
    assert provider.get_status(ref, new_player()).status is ProviderStatus.PENDING
    assert provider.get_status(ref, "player-1").status is ProviderStatus.PENDING
    assert fact(stack, ref)["queries"] == 0  # a per-player call names no round


# -- cancelRound ---------------------------------------------------------------------------


def test_cancel_round_cancels_a_pending_round_and_refuses_a_completed_one(stack: Stack) -> None:
    domain, player = new_domain(), new_player()
    running, done = new_ref(), new_ref()
    register(stack, running, player=player, domain=domain, fate="never", stake="4.00")
    register(stack, done, player=player, domain=domain, fate="returned", payout="2.00")
    provider = adapter(stack, domain)

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

    [cancelled_row] = wait_for_rows(provider, domain, running)
    assert (cancelled_row.status, cancelled_row.payout, cancelled_row.stake) == (
        ProviderStatus.CANCELLED, None, Decimal("4.00"))
    [settled_row] = wait_for_rows(provider, domain, done)
    assert (settled_row.status, settled_row.payout) == (ProviderStatus.SETTLED, Decimal("2.00"))


def test_another_players_round_is_not_found_and_stays_pending(stack: Stack) -> None:
    domain, player, ref = new_domain(), new_player(), new_ref()
    register(stack, ref, player=player, domain=domain, fate="never")
    provider = adapter(stack, domain)
    intruder = provider.cancel(ref, new_player())
    assert (intruder.accepted, intruder.status.status) == (False, ProviderStatus.UNKNOWN)
    assert provider.get_status(ref, player).status is ProviderStatus.PENDING
    assert fact(stack, ref)["cancelled"] is False


def test_a_cancel_of_a_round_not_known_yet_fences_it(stack: Stack) -> None:
    domain, player, ref = new_domain(), new_player(), new_ref()
    provider = adapter(stack, domain)

    fenced = provider.cancel(ref, player)
    assert fenced.accepted and fenced.status.status is ProviderStatus.CANCELLED
    assert ref in sim(stack, "GET", "/_sim/truth")["tombstones"]

    decided = register(stack, ref, player=player, domain=domain, fate="returned",
                       payout="9.00")
    assert decided["fenced"] is True and decided["payout"] is None
    assert (fact(stack, ref)["cancelled"], fact(stack, ref)["settled"]) == (True, False)
    assert provider.get_status(ref, player).status is ProviderStatus.UNKNOWN
    # a round the provider never played has no finished row; a later one in the domain does
    later = new_ref()
    register(stack, later, player=player, domain=domain, fate="returned", payout="1.00")
    wait_for_rows(provider, domain, later)
    assert rows_of(provider, domain, ref) == []


def test_without_tombstones_a_cancel_of_an_unknown_round_finds_nothing_and_fences_nothing(
    stack: Stack,
) -> None:
    domain, player, ref = new_domain(), new_player(), new_ref()
    provider = adapter(stack, domain)
    with knobs(stack, tombstones=False):
        missing = provider.cancel(ref, player)
    assert (missing.accepted, missing.status.status) == (False, ProviderStatus.UNKNOWN)
    decided = register(stack, ref, player=player, domain=domain, fate="never")
    assert decided["fenced"] is False
    assert provider.get_status(ref, player).status is ProviderStatus.PENDING


# -- the finished-rounds feed --------------------------------------------------------------


def test_a_second_pull_from_the_returned_timepoint_fetches_no_row_twice_but_the_boundary(
    stack: Stack,
) -> None:
    domain, player = new_domain(), new_player()
    refs = [new_ref() for _ in range(3)]
    for ref in refs:
        register(stack, ref, player=player, domain=domain, fate="returned", payout="2.00")
    provider = adapter(stack, domain)
    first = wait_until(lambda: (page := provider.fetch_history(domain, None)) and
                       len(page.rows) == 3 and page, 30, lambda: "three rows never came")
    assert {row.bet_ref for row in first.rows} == set(refs) and not first.more
    boundary = first.rows[-1]

    second = provider.fetch_history(domain, first.cursor)
    assert second.rows == [boundary] and second.cursor == first.cursor

    newer = new_ref()
    register(stack, newer, player=player, domain=domain, fate="returned", payout="3.00")
    third = wait_until(lambda: (page := provider.fetch_history(domain, second.cursor)) and
                       len(page.rows) == 2 and page, 30, lambda: f"round {newer} never came")
    assert third.rows[0] == boundary  # the same row: same id, same version
    assert third.rows[1].bet_ref == newer and int(third.cursor) > int(first.cursor)


def test_the_feed_called_again_within_the_min_interval_is_told_to_come_back_later(
    stack: Stack,
) -> None:
    domain, other, player, ref = new_domain(), new_domain(), new_player(), new_ref()
    register(stack, ref, player=player, domain=domain, fate="returned", payout="1.00")
    provider = adapter(stack, domain, other)
    wait_until(lambda: sim(stack, "GET", f"/_sim/pragmatic/rounds/{ref}")["rows"], 30,
               lambda: f"round {ref} never entered the feed")  # no feed call of the domain yet
    with knobs(stack, feed_min_interval=30):
        first = provider.fetch_history(domain, None)
        with pytest.raises(ProviderUnavailable) as refused:
            provider.fetch_history(domain, first.cursor)
        elsewhere = provider.fetch_history(other, None)  # each domain has its own limit
    assert type(refused.value) is ProviderUnavailable  # later, not an invalid answer
    assert "error 7" in str(refused.value) and "called too often" in str(refused.value)
    assert elsewhere.rows == []
    # the refused call moved nothing: the cursor it was given still reads from there
    again = provider.fetch_history(domain, first.cursor)
    assert again.cursor == first.cursor and again.rows == first.rows[-1:]


def test_rounds_split_over_two_domains_each_need_their_own_calls(stack: Stack) -> None:
    east, west, player = new_domain(), new_domain(), new_player()
    in_east, in_west = new_ref(), new_ref()
    since = time.time()
    start = str(int(since * 1000) - 1000)
    register(stack, in_east, player=player, domain=east, fate="returned", payout="1.00")
    register(stack, in_west, player=player, domain=west, fate="returned", payout="2.00")
    provider = adapter(stack, east, west)
    assert provider.feeds == (east, west)

    wait_for_rows(provider, east, in_east)
    wait_for_rows(provider, west, in_west)
    assert rows_of(provider, east, in_west) == [] and rows_of(provider, west, in_east) == []
    main = adapter(stack)
    assert main.feeds == ("main",)
    assert rows_of(main, "main", in_east, start) == []  # not in the base URL's domain either
    paths = {call["path"] for call in sim(stack, "GET", f"/_sim/log?since={since}")["requests"]}
    assert {f"/d/{east}{FEED_PATH}", f"/d/{west}{FEED_PATH}", FEED_PATH} <= paths
    # both rounds are one API's: status and cancel go to the base URL whatever the domain
    assert provider.cancel(in_west, player).status.status is ProviderStatus.FINISHED


def test_an_altered_win_and_a_duplicate_row_show_in_the_feed(stack: Stack) -> None:
    domain, player, ref = new_domain(), new_player(), new_ref()
    register(stack, ref, player=player, domain=domain, fate="returned", payout="5.00")
    provider = adapter(stack, domain)
    [first] = wait_for_rows(provider, domain, ref)

    sim(stack, "POST", f"/_sim/pragmatic/rounds/{ref}/win", {"win": "6.50"})
    altered = wait_until(
        lambda: next((row for row in rows_of(provider, domain, ref) if row.payout != first.payout),
                     None), 30, lambda: f"round {ref} was never re-paid")
    assert (altered.row_id, altered.payout) == (first.row_id, Decimal("6.50"))
    assert altered.version > first.version  # a newer state of the same row

    added = sim(stack, "POST", f"/_sim/pragmatic/rounds/{ref}/duplicate", {"win": "5.00"},
                expect=201)
    rows = wait_for_rows(provider, domain, ref, count=2)
    second = next(row for row in rows if row.row_id != first.row_id)
    assert second.row_id == added["row"] and second.bet_ref == ref
    assert (second.status, second.payout) == (ProviderStatus.SETTLED, Decimal("5.00"))


# -- refusals, outages, fallbacks ----------------------------------------------------------


def test_a_wrong_secret_or_login_is_refused(stack: Stack) -> None:
    domain, player, ref = new_domain(), new_player(), new_ref()
    register(stack, ref, player=player, domain=domain, fate="never")
    wrong = adapter(stack, domain, secret="not-the-secret")
    for call in (lambda: wrong.get_status(ref, player), lambda: wrong.cancel(ref, player),
                 lambda: wrong.fetch_history(domain, None)):
        with pytest.raises(ProviderRejected, match="error 5 \\(invalid hash\\)"):
            call()
    with pytest.raises(ProviderRejected, match="error 4 \\(unknown login\\)"):
        adapter(stack, domain, login="another-login").get_status(ref, player)
    assert fact(stack, ref)["cancelled"] is False  # the refused cancel did nothing
    assert adapter(stack, domain).get_status(ref, player).status is ProviderStatus.PENDING


def test_an_outage_is_no_answer_and_an_internal_error_is_later(stack: Stack) -> None:
    domain, player, ref = new_domain(), new_player(), new_ref()
    register(stack, ref, player=player, domain=domain, fate="never")
    provider = adapter(stack, domain, attempts=1)
    with knobs(stack, outage=True), pytest.raises(ProviderUnavailable) as down:
        provider.get_status(ref, player)
    assert type(down.value) is ProviderUnavailable and "HTTP 503" in str(down.value)

    sim(stack, "POST", "/_sim/faults", {"bet_ref": ref, "fault": "error_with_200"}, expect=201)
    with pytest.raises(ProviderUnavailable) as later:
        provider.cancel(ref, player)
    assert type(later.value) is ProviderUnavailable and "error 100" in str(later.value)
    assert fact(stack, ref)["cancelled"] is False


def test_a_fallback_url_answers_when_the_primary_gives_no_answer(stack: Stack) -> None:
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{closed.getsockname()[1]}"
    domain, player, ref = new_domain(), new_player(), new_ref()
    register(stack, ref, player=player, domain=domain, fate="returned", payout="3.00")
    provider = adapter(stack, domain, base_url=dead, fallback_urls=(stack.pragmatic_sim_url,),
                       attempts=1)
    answered = provider.cancel(ref, player)
    assert (answered.status.status, answered.status.via) == (ProviderStatus.FINISHED,
                                                             stack.pragmatic_sim_url)
    [row] = wait_for_rows(provider, domain, ref)  # the domain at the fallback's /d/<name>
    assert row.payout == Decimal("3.00")
    with pytest.raises(ProviderUnavailable, match="no answer"):
        adapter(stack, domain, base_url=dead, attempts=2).fetch_history(domain, None)
