"""The history feed's pull into the mirror, against the PG-like simulator and the real
database: rows stored once, by version; one call per feed interval whoever pulls; the
cursor kept in the database.

Beat pulls the same feeds every second meanwhile (as in production): the assertions
hold whichever process made a call.
"""

from __future__ import annotations

import secrets
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import requests

from betguard.config.settings import get_settings
from betguard.models.store import mirror
from betguard.models.store.tables import ProviderRow
from betguard.providers.base import HistoryRow, ProviderStatus
from betguard.services.context import Context
from betguard.services.feeds import PullReport, pull_due_feeds, pull_feed
from tests.integration import harness
from tests.integration.harness import Stack, pg_round_id, wait_until

PROVIDER, FEED = "pgsoft", "history"
GET_HISTORY = "/Bet/v4/GetHistory"


def register(stack: Stack, ref: str, **sim: Any) -> dict[str, Any]:
    body = {"bet_ref": ref, "stake": "10.00", "currency": "EUR", "fate": "returned",
            "payout": "25.00", **sim}
    response = requests.post(stack.pgsoft_sim_url + "/_sim/bets", json=body, timeout=10)
    response.raise_for_status()
    return dict(response.json())


def sim_records(stack: Stack, ref: str) -> list[dict[str, Any]]:
    response = requests.get(f"{stack.pgsoft_sim_url}/_sim/pgsoft/rounds/{ref}", timeout=10)
    response.raise_for_status()
    body = response.json()
    return list(body["records"] if isinstance(body, dict) else body)


def mirrored(ctx: Context, ref: str, provider: str = PROVIDER) -> list[HistoryRow]:
    with ctx.db.transaction() as connection:
        return mirror.rows_of(connection, provider, ref)


def cursor(ctx: Context) -> dict[str, Any]:
    with ctx.db.transaction() as connection:
        found = mirror.cursor_of(connection, PROVIDER, FEED)
    assert found is not None, "the feed was never pulled"
    return found


def pull_once(ctx: Context) -> PullReport:
    """One call of the feed made by this process (beat may take a due time first)."""
    report = wait_until(lambda: _called(pull_feed(ctx, PROVIDER, FEED, wake=False)), 15,
                        lambda: "the feed was never due for this process")
    assert isinstance(report, PullReport)
    assert report.error is None, report.error
    return report


def _called(report: PullReport) -> PullReport | None:
    return report if report.called else None


def mirror_until_final(ctx: Context, *refs: str) -> None:
    def all_final() -> bool:
        pull_feed(ctx, PROVIDER, FEED, wake=False)
        return all(rows and all(r.status is ProviderStatus.SETTLED for r in rows)
                   for rows in (mirrored(ctx, ref) for ref in refs))
    wait_until(all_final, 20, lambda: f"rounds {refs} not mirrored as settled")


def mirror_versions(ctx: Context) -> dict[str, tuple[int, datetime]]:
    with ctx.db.transaction() as connection:
        rows = connection.execute(
            ProviderRow.__table__.select().where(ProviderRow.provider == PROVIDER)).mappings()
        return {row["row_id"]: (row["version"], row["updated_at"]) for row in rows}


def test_a_pull_stores_the_provider_s_rows_as_it_published_them(stack: Stack) -> None:
    won, lost = pg_round_id(), pg_round_id()
    register(stack, won, payout="25.00")
    register(stack, lost, payout="0.00", stake="3.50")
    mirror_until_final(stack.context, won, lost)
    for ref, stake, payout in ((won, "10.00", "25.00"), (lost, "3.50", "0.00")):
        [row] = mirrored(stack.context, ref)
        [record] = sim_records(stack, ref)
        assert row.row_id == str(record["betId"]) and int(row.row_id) > 2**53
        assert row.version == record["rowVersion"]
        assert (row.stake, row.payout, row.currency) == (Decimal(stake), Decimal(payout), "EUR")
        assert row.settled_at is not None and row.placed_at is not None


def test_a_second_pull_of_an_unchanged_feed_fetches_no_row_twice(stack: Stack) -> None:
    ref = pg_round_id()
    register(stack, ref)
    mirror_until_final(stack.context, ref)
    before, seen = mirror_versions(stack.context), cursor(stack.context)["rows_seen"]
    reports = [pull_once(stack.context) for _ in range(3)]
    after = mirror_versions(stack.context)
    for report in reports:
        assert report.rows == report.new + report.updated + report.unchanged
        assert report.unchanged <= 1, f"rows fetched again beyond the boundary: {report}"
    new_ids = set(after) - set(before)
    assert cursor(stack.context)["rows_seen"] - seen == len(new_ids)
    for row_id, (version, updated_at) in before.items():
        if after[row_id][0] == version:
            assert after[row_id][1] == updated_at, f"row {row_id} rewritten at its own version"
    assert after[mirrored(stack.context, ref)[0].row_id] == before[
        mirrored(stack.context, ref)[0].row_id]


def test_replayed_older_versions_change_nothing(stack: Stack) -> None:
    provider = f"replay-{secrets.token_hex(4)}"  # a mirror of its own: no feed writes it
    now = datetime.now(UTC)
    paid = HistoryRow(row_id="7001", bet_ref="900000000000000001", status=ProviderStatus.SETTLED,
                      version=50, stake=Decimal("10"), payout=Decimal("12.50"), currency="EUR")
    running = HistoryRow(row_id="7001", bet_ref=paid.bet_ref, status=ProviderStatus.PENDING,
                         version=40, stake=Decimal("10"), currency="EUR")
    repaid = HistoryRow(**{**paid.__dict__, "payout": Decimal("99.00")})  # same version
    with stack.context.db.transaction() as connection:
        first = mirror.upsert_rows(connection, provider, FEED, [running, paid, running], now)
    assert (first.new, first.updated, first.unchanged) == (1, 0, 0)  # the newest of the page
    for replay in ([running], [repaid], [paid]):
        with stack.context.db.transaction() as connection:
            again = mirror.upsert_rows(connection, provider, FEED, replay, datetime.now(UTC))
        assert (again.new, again.updated, again.unchanged) == (0, 0, 1)
        assert again.finals == frozenset()
    [row] = mirrored(stack.context, paid.bet_ref, provider)
    assert (row.status, row.version, row.payout) == (ProviderStatus.SETTLED, 50, Decimal("12.50"))
    newer = HistoryRow(**{**paid.__dict__, "version": 60, "payout": Decimal("13.00")})
    with stack.context.db.transaction() as connection:
        moved = mirror.upsert_rows(connection, provider, FEED, [newer], datetime.now(UTC))
    assert (moved.updated, moved.finals) == (1, frozenset({paid.bet_ref}))
    assert mirrored(stack.context, paid.bet_ref, provider)[0].payout == Decimal("13.00")


def test_the_feed_is_called_no_more_often_than_its_interval_whoever_pulls(stack: Stack) -> None:
    interval = stack.context.policy(PROVIDER).feed_interval
    # Every betguard provider reading the PG-like simulator: each feed has its own limit.
    feeds_at_sim = [name for name, policy in stack.context.policies.items()
                    if policy.adapter == "pgsoft"
                    and str(policy.base_url).rstrip("/") == stack.pgsoft_sim_url]
    attempts: list[PullReport] = []
    lock = threading.Lock()
    stop = time.time() + 3.0

    def hammer() -> None:
        while time.time() < stop:
            reports = pull_due_feeds(stack.context, wake=False)
            with lock:
                attempts.extend(reports)

    started = time.time()
    threads = [threading.Thread(target=hammer) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    span = time.time() - started
    log = requests.get(f"{stack.pgsoft_sim_url}/_sim/log", params={"since": started},
                       timeout=10).json()["requests"]
    calls = [entry for entry in log if entry["path"] == GET_HISTORY]
    ours = [r for r in attempts if (r.provider, r.feed) == (PROVIDER, FEED) and r.called]
    per_feed = int(span / interval) + 2  # a call claimed just before the start may land in it
    assert len(attempts) > 10 * per_feed * len(feeds_at_sim), "the feeds were not pulled hard"
    assert 1 <= len(ours) <= per_feed
    assert len(calls) <= per_feed * len(feeds_at_sim), (len(calls), span, feeds_at_sim)


def test_the_cursor_survives_in_the_database(stack: Stack) -> None:
    refs = [pg_round_id(), pg_round_id()]
    for ref in refs:
        register(stack, ref)
    mirror_until_final(stack.context, *refs)
    with stack.context.db.transaction() as connection:
        stored = mirror.cursor_of(connection, PROVIDER, FEED)
        top = max(version for version, _ in mirror_versions(stack.context).values())
    assert stored is not None and stored["cursor"] is not None
    assert int(stored["cursor"]) <= top
    # A process that starts now: nothing in memory.
    fresh = harness.build_in_process_context(get_settings())
    try:
        report = pull_once(fresh)
    finally:
        fresh.db.dispose()
    # From the stored cursor: only the boundary row comes again, not the whole feed.
    assert report.unchanged == 1, report
    assert report.rows == 1 + report.new + report.updated
    assert cursor(stack.context)["pulls"] > stored["pulls"]
