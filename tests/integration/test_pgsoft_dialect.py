"""The PG Soft dialect end to end: the adapter reading the simulator's GetHistory over real
HTTP. Each call carries a trace id (and, configured, PG's hash authentication); records
are hands, a round final at its last; the feed lags, pages inclusively by row version,
refuses wrong credentials and callers that come too often, resolves rounds the provider
leaves pending, and shows the provider's own corrections (an adjusted hand, a round
recorded as ended twice).

The simulator is shared with the other tests: every test uses its own random round ids,
starts reading at a version just before its bets exist, and restores any knob it sets.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import requests

from betguard.models.domain.answers import Hand
from betguard.models.domain.hands import fold
from betguard.providers.base import HistoryPage, HistoryRow, ProviderStatus
from betguard.providers.client_settings import ProviderClientSettings
from betguard.providers.errors import ProviderInvalidResponse, ProviderRejected, ProviderUnavailable
from betguard.providers.pgsoft import PgSoftProvider
from betguard.providers.pgsoft_wire import PATH, form_body, hash_headers, traced_path
from tests.integration.harness import (
    PGSOFT_SALT_ENV,
    Stack,
    dead_url,
    fallbacks_heard,
    pg_round_id,
    wait_until,
)

pytestmark = pytest.mark.integration

FEED = "history"
OPERATOR = "test-operator"
LAG = 3.0  # "history visible 3-5 min late", scaled down


def adapter(stack: Stack, *, secret: str | None = None, operator_token: str = OPERATOR,
            hashed: bool = True, **settings: Any) -> PgSoftProvider:
    """The adapter as the test stack configures it: PG's hash authentication on (the
    simulator requires it), unless ``hashed`` is False."""
    settings.setdefault("base_url", stack.pgsoft_sim_url)
    options = {"operator_token": operator_token}
    if hashed:
        options["hash_salt_env"] = PGSOFT_SALT_ENV
    return PgSoftProvider(ProviderClientSettings(
        name="pgsoft", secret=secret or stack.provider_secret("pgsoft"), read_timeout=10.0,
        options=options, **settings))



def register(stack: Stack, *bets: dict[str, Any]) -> None:
    specs = [{"stake": "10.00", "currency": "EUR", "lag": 0, **bet} for bet in bets]
    stack.pgsoft_sim.call("POST", "/_sim/bets", {"bets": specs}, expect=201)



def now_ms() -> int:
    return int(time.time() * 1000)


class Reader:
    """Reads the feed from a cursor on, as betguard would: upserting rows by id."""

    def __init__(self, provider: PgSoftProvider, cursor: str | None = None) -> None:
        self.provider = provider
        # Row versions are never below the moment a change shows, so a version taken
        # before the test's bets exist reads all of them (and whatever came since).
        self.cursor = cursor if cursor is not None else str(now_ms() - 1000)
        self.latest: dict[str, HistoryRow] = {}
        self.states: dict[str, list[HistoryRow]] = {}

    def page(self) -> HistoryPage:
        page = self.provider.fetch_history(FEED, self.cursor)
        for row in page.rows:
            known = self.latest.get(row.row_id)
            if known is None or row.version > known.version:
                self.latest[row.row_id] = row
                self.states.setdefault(row.row_id, []).append(row)
        self.cursor = page.cursor
        return page

    def pull(self) -> list[HistoryPage]:
        pages = [self.page()]
        while pages[-1].more:
            assert len(pages) < 20, "the feed never caught up"
            pages.append(self.page())
        return pages

    def of(self, ref: str) -> list[HistoryRow]:
        return [row for row in self.latest.values() if row.bet_ref == ref]

    def round(self, ref: str) -> HistoryRow | None:
        """The round as betguard reads it: its hands folded."""
        rows = fold(self.of(ref))
        assert len(rows) <= 1, rows
        return rows[0] if rows else None

    def wait_for(self, match: Callable[[HistoryRow], bool], what: str) -> HistoryRow:
        def found() -> HistoryRow | None:
            self.pull()
            return next((row for row in self.latest.values() if match(row)), None)

        row: HistoryRow = wait_until(found, 30, lambda: f"no row {what} in the feed")
        return row


def test_a_bet_shows_in_the_feed_first_pending_then_settled_only_after_the_feed_lag(
    stack: Stack,
) -> None:
    feed, ref = Reader(adapter(stack)), pg_round_id()
    with stack.pgsoft_sim.knobs(feed_lag_range=[LAG, LAG]):
        register(stack, {"bet_ref": ref, "fate": "delayed", "delay": 2.0, "stake": "0.10",
                         "payout": "0.30"})
        feed.pull()
        assert feed.of(ref) == []  # the provider knows it, its history does not show it yet
        pending = feed.wait_for(lambda r: r.bet_ref == ref, f"for round {ref}")
        settled = feed.wait_for(lambda r: r.bet_ref == ref and r.status is ProviderStatus.SETTLED,
                                f"settling round {ref}")
    # the first hand (the stake, not the last), then the last hand paying the result
    assert (pending.status, pending.hand, pending.stake) == (
        ProviderStatus.PENDING, Hand.NOT_LAST, Decimal("0.10"))
    assert settled.row_id != pending.row_id and settled.version > pending.version
    assert (settled.hand, settled.payout, settled.currency) == (Hand.LAST, Decimal("0.30"), "EUR")
    round_ = feed.round(ref)
    assert round_ is not None and (round_.status, round_.stake, round_.payout, round_.hands) == (
        ProviderStatus.SETTLED, Decimal("0.10"), Decimal("0.30"), 2)
    assert pending.placed_at is not None and settled.settled_at is not None
    # each state was listed only once the lag had passed since it happened
    assert pending.version >= ms(pending.placed_at.timestamp()) + LAG * 1000 - 1
    assert settled.version >= ms(settled.settled_at.timestamp()) + LAG * 1000 - 1
    assert settled.settled_at - pending.placed_at >= timedelta(seconds=2) - timedelta(
        milliseconds=1)
    # a record id beyond 2^53 came through exactly
    record = stack.pgsoft_sim.call("GET", f"/_sim/pgsoft/rounds/{ref}")
    assert int(pending.row_id) > 2**53 and pending.row_id == str(record["bet_id"])


def ms(seconds: float) -> int:
    return int(seconds * 1000)


def test_pages_of_1500_continue_from_the_cursor_and_every_record_arrives(stack: Stack) -> None:
    provider = adapter(stack)
    feed = Reader(provider)
    refs = {pg_round_id() for _ in range(1700)}
    never_seen = pg_round_id()
    register(stack, *({"bet_ref": ref, "fate": "returned", "payout": "1.00"} for ref in refs),
             {"bet_ref": never_seen, "fate": "unknown"})
    pages = feed.pull()
    assert len(pages) >= 2 and len(pages[0].rows) == 1500 and pages[0].more
    assert not pages[-1].more
    for before, after in zip(pages, pages[1:], strict=False):
        boundary = before.rows[-1]
        assert before.cursor == str(boundary.version)
        assert (after.rows[0].row_id, after.rows[0].version) == (boundary.row_id,
                                                                 boundary.version)
    mine = [row for page in pages for row in page.rows if row.bet_ref in refs]
    assert {row.bet_ref for row in mine} == refs
    assert len({row.row_id for row in mine}) == len(refs)  # one hand per round here
    assert len(mine) == len(refs) + len(pages) - 1  # each boundary row came twice
    assert all(row.status is ProviderStatus.SETTLED for row in mine)
    assert feed.of(never_seen) == []  # a bet the provider never saw never shows


def test_a_second_pull_of_an_unchanged_feed_fetches_only_the_boundary_row(stack: Stack) -> None:
    provider = adapter(stack)
    feed = Reader(provider)
    refs = {pg_round_id() for _ in range(5)}
    register(stack, *({"bet_ref": ref, "fate": "returned", "payout": "2.00"} for ref in refs))
    feed.wait_for(lambda r: all(feed.of(ref) for ref in refs), "for every round")
    caught_up = int(feed.cursor)
    seen = {(row.row_id, row.version) for row in feed.latest.values()}

    again = provider.fetch_history(FEED, feed.cursor)

    assert all(row.version >= caught_up for row in again.rows)
    repeated = [(row.row_id, row.version) for row in again.rows if (row.row_id, row.version)
                in seen]
    assert [version for _, version in repeated] == [caught_up]
    assert all(row.version == caught_up for row in again.rows if row.bet_ref in refs)


def test_a_wrong_secret_or_operator_is_refused(stack: Stack) -> None:
    since = time.time()
    with pytest.raises(ProviderRejected, match="GetHistory error 1204"):
        adapter(stack, secret="not-the-secret").fetch_history(FEED, None)
    with pytest.raises(ProviderRejected, match="GetHistory error 1204") as refused:
        adapter(stack, operator_token="another-operator").fetch_history(FEED, None)
    calls = stack.pgsoft_sim.call("GET", f"/_sim/log?since={since}")["requests"]
    # errors come in the body of an HTTP 200, and every call is in the simulator's log
    assert [(c["method"], c["path"], c["status"]) for c in calls if c["path"] == PATH][:2] == [
        ("POST", PATH, 200), ("POST", PATH, 200)]
    # the call's own trace id is in the message, for PG support
    assert re.search(r"trace_id [0-9a-f-]{36}", str(refused.value))


def test_a_call_without_a_trace_id_is_refused_as_an_invalid_request(stack: Stack) -> None:
    body = form_body(OPERATOR, stack.provider_secret("pgsoft"), 1, 1500)
    url = stack.pgsoft_sim_url + traced_path(str(uuid.uuid4()))
    signed = {"Content-Type": "application/x-www-form-urlencoded",
              **hash_headers(OPERATOR, os.environ[PGSOFT_SALT_ENV], url, body)}
    untraced = requests.post(stack.pgsoft_sim_url + PATH, data=body, timeout=10,
                             headers=signed)
    assert untraced.json()["error"]["code"] == "1034"
    assert "trace_id" in untraced.json()["error"]["message"]
    traced = requests.post(url, data=body, timeout=10, headers=signed)
    assert traced.json()["error"] is None


def test_a_call_without_pg_s_hash_authentication_is_refused_where_it_is_required(
    stack: Stack,
) -> None:
    with pytest.raises(ProviderRejected, match="GetHistory error 1204") as refused:
        adapter(stack, hashed=False).fetch_history(FEED, None)
    assert "x-date" in str(refused.value)
    adapter(stack).fetch_history(FEED, str(now_ms()))  # the same call, hashed, is answered


def test_a_provider_outage_is_no_answer_and_another_status_is_an_invalid_answer(
    stack: Stack,
) -> None:
    with stack.pgsoft_sim.knobs(outage=True), pytest.raises(ProviderUnavailable) as down:
        adapter(stack, attempts=1).fetch_history(FEED, None)
    assert type(down.value) is ProviderUnavailable and "HTTP 503" in str(down.value)
    elsewhere = adapter(stack, base_url=stack.pgsoft_sim_url + "/nowhere")
    with pytest.raises(ProviderInvalidResponse, match="unexpected HTTP 404"):
        elsewhere.fetch_history(FEED, None)


def test_a_fallback_url_answers_when_the_primary_gives_no_answer(stack: Stack) -> None:
    dead = dead_url()
    feed, ref = Reader(adapter(stack, base_url=dead, fallback_urls=(stack.pgsoft_sim_url,),
                               attempts=1)), pg_round_id()
    register(stack, {"bet_ref": ref, "fate": "returned", "payout": "3.00"})
    with fallbacks_heard() as heard:
        row = feed.wait_for(lambda r: r.bet_ref == ref, f"round {ref}")
    assert row.payout == Decimal("3.00")
    assert heard and set(heard) == {("pgsoft", stack.pgsoft_sim_url)}  # counted in the metrics
    with pytest.raises(ProviderUnavailable, match="no answer"):
        adapter(stack, base_url=dead, attempts=2).fetch_history(FEED, None)


def test_a_feed_called_too_often_is_told_to_come_back_later(stack: Stack) -> None:
    provider = adapter(stack)
    with stack.pgsoft_sim.knobs(feed_min_interval=30):
        with contextlib.suppress(ProviderUnavailable):  # refused too if another reader was first
            provider.fetch_history(FEED, str(now_ms()))
        with pytest.raises(ProviderUnavailable) as refused:
            provider.fetch_history(FEED, str(now_ms()))
    assert type(refused.value) is ProviderUnavailable  # later, not an invalid answer
    assert "1200" in str(refused.value) and "called too often" in str(refused.value)
    provider.fetch_history(FEED, str(now_ms()))  # with the knob back at 0, no gap is asked


def test_a_round_the_provider_leaves_pending_is_completed_by_the_provider_itself(
    stack: Stack,
) -> None:
    feed, ref = Reader(adapter(stack)), pg_round_id()
    with stack.pgsoft_sim.knobs(self_resolve_after=1.0):
        register(stack, {"bet_ref": ref, "fate": "never"})
        feed.wait_for(lambda r: r.bet_ref == ref and r.hand is Hand.LAST,
                      f"completing round {ref}")
    round_ = feed.round(ref)
    assert round_ is not None and (round_.status, round_.payout) == (ProviderStatus.SETTLED,
                                                                     Decimal("0"))
    assert round_.placed_at is not None and round_.settled_at is not None
    assert round_.settled_at - round_.placed_at >= timedelta(milliseconds=999)
    fact = stack.pgsoft_sim.call("GET", "/_sim/truth")["bets"][ref]
    assert (fact["status_now"], fact["cancelled"], fact["settled"]) == ("settled", False, True)
    round_ = stack.pgsoft_sim.call("GET", f"/_sim/pgsoft/rounds/{ref}")
    assert round_["self_resolved_at"] is not None


def test_a_free_spin_round_comes_as_hands_that_pay_the_round_only_together(
    stack: Stack,
) -> None:
    feed, ref = Reader(adapter(stack)), pg_round_id()
    with stack.pgsoft_sim.knobs(free_spin_share=1.0):
        register(stack, {"bet_ref": ref, "fate": "returned", "payout": "10.00"})
        feed.wait_for(lambda r: r.bet_ref == ref and r.hand is Hand.LAST, f"round {ref}")
    hands = sorted(feed.of(ref), key=lambda row: row.version)
    assert [row.hand for row in hands] == [Hand.NOT_LAST, Hand.NOT_LAST, Hand.LAST]
    assert [row.payout for row in hands] == [Decimal("0"), Decimal("5"), Decimal("5")]
    round_ = feed.round(ref)
    assert round_ is not None and (round_.payout, round_.stake, round_.hands) == (
        Decimal("10"), Decimal("10"), 3)


def test_an_altered_payout_and_a_duplicate_record_show_in_the_feed(stack: Stack) -> None:
    feed, ref = Reader(adapter(stack)), pg_round_id()
    register(stack, {"bet_ref": ref, "fate": "returned", "payout": "5.00"})
    first = feed.wait_for(lambda r: r.bet_ref == ref and r.status is ProviderStatus.SETTLED,
                          f"settling round {ref}")

    stack.pgsoft_sim.call("POST", f"/_sim/pgsoft/rounds/{ref}/payout", {"payout": "6.50"})
    altered = feed.wait_for(lambda r: r.row_id == first.row_id and r.payout != first.payout,
                            f"re-paying round {ref}")
    assert (altered.payout, altered.hand) == (Decimal("6.50"), Hand.ADJUSTED)
    assert altered.version > first.version and altered.settled_at == first.settled_at
    round_ = feed.round(ref)
    assert round_ is not None and round_.payout == Decimal("6.50")

    added = stack.pgsoft_sim.call("POST", f"/_sim/pgsoft/rounds/{ref}/duplicate",
                                  {"payout": "5.00"}, expect=201)
    second = feed.wait_for(lambda r: r.bet_ref == ref and r.row_id != first.row_id,
                           f"a second record of round {ref}")
    assert second.row_id == str(added["bet_id"])
    assert (second.hand, second.payout) == (Hand.LAST, Decimal("5.00"))
    # a round ended twice is not folded: its rows stay apart, for a person
    assert len(fold(feed.of(ref))) == 2


def test_a_payout_of_a_round_without_a_result_cannot_be_altered(stack: Stack) -> None:
    ref, foreign = pg_round_id(), "not-a-pg-round"
    register(stack, {"bet_ref": ref, "fate": "never"}, {"bet_ref": foreign, "fate": "returned"})
    stack.pgsoft_sim.call("POST", f"/_sim/pgsoft/rounds/{ref}/payout", {"payout": "1.00"},
                          expect=409)
    stack.pgsoft_sim.call("POST", f"/_sim/pgsoft/rounds/{foreign}/duplicate", {}, expect=404)


def test_the_time_range_history_pages_through_every_round_placed_in_a_window(
    stack: Stack,
) -> None:
    provider = adapter(stack)
    start = datetime.now(UTC) - timedelta(seconds=1)
    refs: set[str] = set()
    for _batch in range(4):  # rounds of one batch share their betTime: 400 at a moment
        batch = {pg_round_id() for _ in range(400)}
        register(stack, *({"bet_ref": ref, "fate": "returned", "payout": "1.00"}
                          for ref in batch))
        refs |= batch
        time.sleep(0.01)
    end = datetime.now(UTC) + timedelta(seconds=1)

    pages, cursor = [], start
    while True:
        pages.append(provider.fetch_history_window(cursor, end))
        if not pages[-1].more:
            break
        assert len(pages) < 10, "the window never ended"
        cursor = datetime.fromtimestamp(int(pages[-1].cursor) / 1000, tz=UTC)
    assert len(pages) >= 2 and len(pages[0].rows) == 1500
    mine = {row.bet_ref for page in pages for row in page.rows if row.bet_ref in refs}
    assert mine == refs
    assert all(page.trace_id for page in pages)
    with pytest.raises(ProviderRejected, match="up to 40 days"):
        provider.fetch_history_window(start - timedelta(days=41), start)
