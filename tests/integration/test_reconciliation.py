"""Reconciliation (对账) on the running stack against the PG-like provider: differences
planted at the provider are found, all of them and nothing else, stored with both
sides' facts, put on their bets as review items or resolved by waking the bet's check,
shown in stats and metrics, written as CSV and HTML, and not stored twice.

The window starts at the test's own start, so other tests' rounds stay out of it.
Beat keeps pulling the feed and checking bets, except while the bets whose results
betguard must not learn are placed: beat is stopped then (no feed pull, no sweep).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import delete, event, func, select

from betguard.metrics import make_metrics_app
from betguard.models.domain.events import EventKind, Resolution
from betguard.models.domain.snapshot import BetSnapshot
from betguard.models.domain.states import BetState
from betguard.models.store import repository
from betguard.models.store.tables import (
    ProviderRow,
    ReconciliationDifference,
    ReconciliationRun,
    Review,
)
from betguard.services.intake import place_bet
from betguard.services.reconcile import SCHEDULED, Claim, Report, claim_scheduled, reconcile
from betguard.services.reconcile_compare import Difference, HereBet, Kind, ThereRow
from betguard.services.reconcile_store import Wake, resolve_difference, store
from betguard.services.results import ResultOutcome, report_result
from betguard.services.reviews import Resolve, resolve_review
from tests.e2e.console import new_person, signed_in
from tests.integration.api_server import Api
from tests.integration.harness import (
    Run,
    Stack,
    bet_payload,
    pg_round_id,
    run_betguard,
    served,
    wait_until,
)

pytestmark = pytest.mark.integration

PROVIDER = "pgsoft"
FEED_LAG = 2.0  # the harness policy's feed_lag for pgsoft


def at_provider(stack: Stack, ref: str, payout: str = "5.00") -> None:
    """The game server places a round with the provider (its result at once)."""
    body = {"bet_ref": ref, "stake": "10.00", "currency": "EUR", "fate": "returned",
            "payout": payout, "lag": 0}
    requests.post(stack.pgsoft_sim_url + "/_sim/bets", json=body, timeout=10).raise_for_status()


def placed(stack: Stack, payout: str = "5.00") -> BetSnapshot:
    """A round placed with the provider and registered with betguard."""
    ref = pg_round_id()
    at_provider(stack, ref, payout)
    return place_bet(stack.context, bet_payload(PROVIDER, ref)).bet


def control(stack: Stack, ref: str, action: str, body: dict[str, Any]) -> None:
    url = f"{stack.pgsoft_sim_url}/_sim/pgsoft/rounds/{ref}/{action}"
    requests.post(url, json=body, timeout=10).raise_for_status()


def differences_of(stack: Stack, *refs: str) -> list[ReconciliationDifference]:
    with stack.context.db.unit_of_work() as session:
        rows = list(session.scalars(
            select(ReconciliationDifference)
            .where(ReconciliationDifference.provider == PROVIDER,
                   ReconciliationDifference.bet_ref.in_(refs))
            .order_by(ReconciliationDifference.id)))
        session.expunge_all()
        return rows


def open_reviews(stack: Stack, bet_id: int) -> list[Review]:
    return [r for r in stack.reviews(bet_id) if r.resolved_at is None]


def found(report: Report | dict[str, Any]) -> set[tuple[str, str]]:
    items = report["differences"] if isinstance(report, dict) else [
        d.as_json() for d in report.differences]
    return {(d["kind"], d["bet_ref"]) for d in items}


def betguard(stack: Stack, *args: str) -> Run:
    return run_betguard(stack.env, *args, timeout=120)



def scrape(url: str, name: str) -> dict[frozenset[tuple[str, str]], float]:
    samples: dict[frozenset[tuple[str, str]], float] = {}
    for family in text_string_to_metric_families(requests.get(url, timeout=10).text):
        for sample in family.samples:
            if sample.name == name:
                samples[frozenset(sample.labels.items())] = sample.value
    return samples


def open_counts(stack: Stack) -> dict[str, int]:
    with stack.context.db.unit_of_work() as session:
        return {kind: count for kind, count in session.execute(
            select(ReconciliationDifference.kind, func.count())
            .where(ReconciliationDifference.provider == PROVIDER,
                   ReconciliationDifference.resolved_at.is_(None))
            .group_by(ReconciliationDifference.kind))}


def scheduled_runs(stack: Stack) -> int:
    with stack.context.db.unit_of_work() as session:
        return int(session.scalar(
            select(func.count()).select_from(ReconciliationRun)
            .where(ReconciliationRun.provider == PROVIDER,
                   ReconciliationRun.mode == SCHEDULED)) or 0)


@dataclass(frozen=True)
class Planted:
    start: datetime
    end: datetime
    report: Report
    altered: BetSnapshot  # settled, then the provider changed its payout
    duplicated: BetSnapshot  # settled, then the provider recorded it twice
    agreeing: list[BetSnapshot]  # settled alike on both sides
    unknown_here: list[str]  # placed with the provider only
    unreturned: list[BetSnapshot]  # their results never reached betguard

    @property
    def expected(self) -> set[tuple[str, str]]:
        return {("payout_differs", self.altered.bet_ref),
                ("duplicate", self.duplicated.bet_ref),
                *(("missing_here", ref) for ref in self.unknown_here),
                *(("state_differs", bet.bet_ref) for bet in self.unreturned)}


@pytest.fixture(scope="module")
def planted(stack: Stack) -> Planted:
    # Beat's hourly run of this provider happens once the feed was first pulled; after
    # it, the next is an hour away and cannot race this test's runs.
    wait_until(lambda: scheduled_runs(stack) >= 1, 45, lambda: "no scheduled run of pgsoft")
    start = datetime.now(UTC)
    altered, duplicated, *agreeing = [placed(stack) for _ in range(4)]
    for bet in (altered, duplicated, *agreeing):
        stack.wait_for_state(bet.id, BetState.SETTLED)  # the checks read the mirror
    control(stack, altered.bet_ref, "payout", {"payout": "7.50"})
    control(stack, duplicated.bet_ref, "duplicate", {})
    unknown_here = [pg_round_id() for _ in range(2)]
    for ref in unknown_here:
        at_provider(stack, ref)
    assert stack.beat is not None
    stack.beat.stop()  # no feed pull, no sweep: these results never reach betguard
    try:
        unreturned = [placed(stack, payout="3.00") for _ in range(2)]
        time.sleep(FEED_LAG + 0.5)  # past the feed's lag: the horizon covers them
        assert all(stack.bet(bet.id).state is BetState.PENDING for bet in unreturned)
        end = datetime.now(UTC)
        report = reconcile(stack.context, PROVIDER, start, end)  # pulls the feed first
    finally:
        stack.start_beat()
    return Planted(start, end, report, altered, duplicated, agreeing, unknown_here,
                   unreturned)


def test_reconciliation_finds_every_planted_difference_and_no_other(planted: Planted) -> None:
    report = planted.report

    assert found(report) == planted.expected
    assert all(d.new for d in report.differences)
    assert report.counts() == {"duplicate": 1, "missing_here": 2, "payout_differs": 1,
                               "state_differs": 2}
    assert report.horizon < planted.end and report.clipped  # the window stops at the horizon
    assert report.compared_here >= 6  # every bet of the test, the agreeing ones too


def test_each_difference_is_stored_with_both_sides_facts(stack: Stack, planted: Planted) -> None:
    [payout] = differences_of(stack, planted.altered.bet_ref)
    [duplicate] = differences_of(stack, planted.duplicated.bet_ref)
    missing = differences_of(stack, *planted.unknown_here)

    assert (payout.kind, payout.bet_id) == ("payout_differs", planted.altered.id)
    assert payout.here["payout"] == "5.00" and payout.here["state"] == "settled"
    assert [row["payout"] for row in payout.there["rows"]] == ["7.50"]
    assert all("hands" not in row for d in (payout, duplicate) for row in d.there["rows"]), \
        "a record of one hand is no folded round"
    assert duplicate.kind == "duplicate" and len(duplicate.there["rows"]) == 2
    assert len({row["row_id"] for row in duplicate.there["rows"]}) == 2
    assert [(d.kind, d.bet_id, d.here) for d in missing] == [("missing_here", None, {})] * 2
    assert all(d.there["rows"][0]["status"] == "settled" for d in missing)
    assert all(d.run_id == planted.report.run_id for d in (payout, duplicate, *missing))


def test_a_difference_on_a_decided_bet_becomes_a_review_item_with_its_event(
    stack: Stack, planted: Planted
) -> None:
    for bet in (planted.altered, planted.duplicated):
        [review] = open_reviews(stack, bet.id)
        [difference] = differences_of(stack, bet.bet_ref)
        assert review.reason == "reconciliation"
        assert review.detail["difference_id"] == difference.id
        assert EventKind.RECONCILIATION_DIFFERENCE.value in stack.kinds(bet.id)
        assert stack.bet(bet.id).state is BetState.SETTLED  # the bet itself is unchanged
    for bet in planted.agreeing:
        assert open_reviews(stack, bet.id) == [] and differences_of(stack, bet.bet_ref) == []


def test_a_bet_still_waiting_that_the_feed_shows_final_has_its_check_woken_and_settles(
    stack: Stack, planted: Planted
) -> None:
    for bet in planted.unreturned:
        [difference] = differences_of(stack, bet.bet_ref)
        assert (difference.kind, difference.resolution) == ("state_differs", "auto_check")
        assert difference.here["state"] == "pending"
        settled = stack.wait_for_state(bet.id, BetState.SETTLED)
        assert settled.payout == Decimal("3.00")
        assert open_reviews(stack, bet.id) == []


def test_a_second_run_of_the_same_window_stores_nothing_new_and_reports_csv_and_html(
    stack: Stack, planted: Planted, tmp_path: Path
) -> None:
    for bet in planted.unreturned:
        stack.wait_for_state(bet.id, BetState.SETTLED)
    refs = [ref for _kind, ref in planted.expected]
    before = len(differences_of(stack, *refs))
    csv_file, html_file = tmp_path / "differences.csv", tmp_path / "report.html"

    run = betguard(stack, "reconcile", "--provider", PROVIDER, "--from",
                   planted.start.isoformat(), "--to", planted.end.isoformat(), "--no-pull",
                   "--summary-first", "--csv", str(csv_file), "--html", str(html_file),
                   "--json")

    assert run.code == 1, run.err  # differences are still there
    second = json.loads(run.out)
    assert second["new"] == 0 and len(differences_of(stack, *refs)) == before
    still = planted.expected - {("state_differs", b.bet_ref) for b in planted.unreturned}
    assert found(second) == still  # the woken bets settled: they agree now
    assert second["totals"] and any(t["differs"] for t in second["totals"])
    lines = list(csv.DictReader(csv_file.open()))
    assert {(line["kind"], line["bet_ref"]) for line in lines} == still
    [altered] = [line for line in lines if line["kind"] == "payout_differs"]
    assert (altered["here_payout"], altered["there_payout"]) == ("5.00", "7.50")
    html = html_file.read_text()
    assert html.startswith("<!DOCTYPE html>") and planted.altered.bet_ref in html
    assert "payout_differs" in html and "<script" not in html


def test_the_command_refuses_what_it_cannot_reconcile_naming_what_is_wrong(
    stack: Stack,
) -> None:
    cases = [
        (["--provider", PROVIDER, "--from", "yesterday", "--to", "2030-01-01"], "--from"),
        (["--provider", "nobody", "--from", "2030-01-01", "--to", "2030-01-02"], "nobody"),
        (["--provider", "patient", "--from", "2030-01-01", "--to", "2030-01-02"],
         "no history feed"),
        (["--provider", PROVIDER, "--from", "2030-01-02", "--to", "2030-01-01"], "before"),
    ]
    for args, named in cases:
        run = betguard(stack, "reconcile", *args, "--no-pull")
        assert run.code == 2 and run.err.startswith("error: ") and named in run.err, run


def test_open_differences_show_in_stats_and_metrics_as_the_database_has_them(
    stack: Stack, planted: Planted
) -> None:
    stats = json.loads(betguard(stack, "stats", "--json").out)
    truth = open_counts(stack)

    assert stats["open_differences"][PROVIDER] == truth
    assert truth["payout_differs"] >= 1 and truth["missing_here"] >= 2
    [feed] = [f for f in stats["feeds"] if f["provider"] == PROVIDER]
    assert feed["last_success_age_seconds"] < 30 and feed["rows_seen"] > 0
    assert "paused_games" in stats
    human = betguard(stack, "stats").out
    assert "open reconciliation differences" in human and "history feeds" in human
    with served(make_metrics_app(stack.context.db), "/metrics") as url:
        shown = scrape(url, "betguard_reconciliation_open_differences")
        ages = scrape(url, "betguard_feed_last_success_age_seconds")
        rows = scrape(url, "betguard_feed_rows_total")
    mine = {dict(k)["kind"]: v for k, v in shown.items() if dict(k)["provider"] == PROVIDER}
    assert {kind: v for kind, v in mine.items() if v} == truth
    assert set(mine) >= {"missing_here", "missing_there", "payout_differs", "state_differs",
                         "duplicate"}  # zeros shown too
    feed_key = frozenset({("provider", PROVIDER), ("feed", "history")})
    assert ages[feed_key] < 30 and rows[feed_key] > 0


def test_resolving_closes_differences_and_their_reviews(stack: Stack, planted: Planted) -> None:
    ctx = stack.context
    resolve_review(ctx, Resolve(PROVIDER, planted.altered.bet_ref, Resolution.ACKNOWLEDGED,
                                "ops-1", "the provider corrected its payout; we pay 7.50"))
    [payout] = differences_of(stack, planted.altered.bet_ref)
    assert (payout.resolution, payout.operator) == ("acknowledged", "ops-1")

    [missing, *others] = differences_of(stack, *planted.unknown_here)
    run = betguard(stack, "differences", "resolve", str(missing.id), "--operator", "ops-2",
                   "--note", "a test round of the provider's")
    assert run.code == 0, run.err
    [closed] = differences_of(stack, missing.bet_ref)
    assert (closed.resolution, closed.operator) == ("resolved", "ops-2")
    again = betguard(stack, "differences", "resolve", str(missing.id), "--operator", "ops-2",
                     "--note", "again")
    assert again.code == 1 and "resolved already" in again.err

    [duplicate] = differences_of(stack, planted.duplicated.bet_ref)
    resolve_difference(ctx, duplicate.id, operator="ops-3", note="one round, two records")
    assert open_reviews(stack, planted.duplicated.id) == []  # its review closed with it
    for other in others:
        resolve_difference(ctx, other.id, operator="ops-3", note="test rounds")
    assert all(d.resolved_at is not None for d in differences_of(
        stack, *[ref for _kind, ref in planted.expected]))


def test_two_workers_due_at_once_start_one_scheduled_run_of_a_provider(stack: Stack) -> None:
    with stack.context.db.unit_of_work() as session:
        last = session.scalar(select(func.max(ReconciliationRun.started_at)).where(
            ReconciliationRun.provider == PROVIDER, ReconciliationRun.mode == SCHEDULED))
    assert last is not None
    age = (datetime.now(UTC) - last).total_seconds()
    policy = stack.context.policy(PROVIDER).model_copy(update={"reconcile_interval": age / 2})
    due = dataclasses.replace(stack.context, policies={**stack.context.policies,
                                                       PROVIDER: policy})
    feeds = stack.context.providers[PROVIDER].feeds
    barrier = threading.Barrier(4)
    claims: list[Claim | None] = []

    def claim() -> None:
        barrier.wait()
        claims.append(claim_scheduled(due, PROVIDER, feeds))

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    [taken] = [c for c in claims if c is not None]
    assert len(claims) == 4
    assert claim_scheduled(due, PROVIDER, feeds) is None  # the next tick: not due
    assert taken.window_to == taken.horizon and taken.window_from < taken.window_to
    with stack.context.db.unit_of_work() as session:
        run = session.get(ReconciliationRun, taken.run_id)
        assert run is not None and run.mode == SCHEDULED and run.window_from <= last


@dataclass(frozen=True)
class Raced:
    difference: ReconciliationDifference
    wakes: list[Wake]
    bet: BetSnapshot


def store_while(stack: Stack, meddle: Callable[[BetSnapshot, datetime], None]) -> Raced:
    """Store a "pending here, settled (3.00) there" difference of a new bet while
    ``meddle`` changes the bet on another connection, between the store's read of the bet
    and its write."""
    ctx = stack.context
    bet = place_bet(ctx, bet_payload(PROVIDER, pg_round_id())).bet  # its first check is 0.5 s away
    now = datetime.now(UTC)
    here = HereBet(bet.id, bet.bet_ref, "pending", bet.stake, None, bet.currency, now)
    there = ThereRow("row-1", bet.bet_ref, "settled", 1, bet.stake, Decimal("3.00"),
                     bet.currency, now, now)
    difference = Difference(Kind.STATE_DIFFERS, bet.bet_ref, here, (there,),
                            "pending here, settled at the provider")
    meddled: list[bool] = []

    def in_between(conn: Any, cursor: Any, statement: str, params: Any, context: Any,
                   executemany: bool) -> None:
        if meddled or not statement.startswith("UPDATE bets") or params.get("b_id") != bet.id:
            return
        meddled.append(True)
        meddle(bet, now)

    event.listen(ctx.db.engine, "before_cursor_execute", in_between, named=False)
    try:
        with ctx.db.unit_of_work() as session:
            run = ReconciliationRun(provider=PROVIDER, window_from=now, window_to=now,
                                    mode="rows", started_at=now, counts={})
            session.add(run)
            session.flush()
            _found, wakes = store(ctx, session, run, [difference], now)
            session.commit()
    finally:
        event.remove(ctx.db.engine, "before_cursor_execute", in_between)
    assert meddled, "the store never tried to write the bet"
    [stored] = differences_of(stack, bet.bet_ref)
    return Raced(stored, wakes, bet)


def settled_with(stack: Stack, payout: str) -> Callable[[BetSnapshot, datetime], None]:
    """The game server reports the bet's result meanwhile."""
    def report(bet: BetSnapshot, _now: datetime) -> None:
        assert report_result(stack.context, PROVIDER, bet.bet_ref, payout=payout,
                             currency=bet.currency) is ResultOutcome.SETTLED
    return report


def test_a_worker_claiming_the_bet_while_its_difference_is_stored_leaves_it_to_that_check(
    stack: Stack,
) -> None:
    def a_worker_claims_it(bet: BetSnapshot, now: datetime) -> None:
        with stack.context.db.transaction() as other:
            taken = repository.claim_check(other, bet.id, bet.check_attempt, now=now,
                                           lease_until=now + timedelta(seconds=5))
        assert taken is not None

    raced = store_while(stack, a_worker_claims_it)

    assert raced.wakes == []  # the claim raced the store; its check answers
    assert (raced.difference.resolution, raced.difference.note) == (
        "auto_check", "a check was in flight: its answer comes")
    assert open_reviews(stack, raced.bet.id) == []


def test_a_bet_settled_as_the_provider_has_it_while_its_difference_is_stored_needs_nobody(
    stack: Stack,
) -> None:
    raced = store_while(stack, settled_with(stack, "3.00"))  # the provider's payout

    assert raced.wakes == []
    assert (raced.difference.resolution, raced.difference.note) == (
        "auto_check", "its check decided it meanwhile, as the provider has it")
    assert EventKind.RECONCILIATION_DIFFERENCE.value in stack.kinds(raced.bet.id)
    assert open_reviews(stack, raced.bet.id) == []


def test_a_bet_settled_otherwise_while_its_difference_is_stored_goes_to_a_person(
    stack: Stack,
) -> None:
    raced = store_while(stack, settled_with(stack, "4.00"))

    assert raced.wakes == [] and raced.difference.resolution is None
    [review] = open_reviews(stack, raced.bet.id)
    assert review.reason == "reconciliation"
    assert review.detail["difference_id"] == raced.difference.id


def test_a_record_the_feed_never_brought_is_refilled_from_the_time_range_history(
    stack: Stack,
) -> None:
    start = datetime.now(UTC) - timedelta(seconds=1)
    bet = placed(stack)
    stack.wait_for_state(bet.id, BetState.SETTLED)
    later = placed(stack)  # the feed's cursor goes past the record (its boundary, inclusive)
    stack.wait_for_state(later.id, BetState.SETTLED)
    with stack.context.db.transaction() as connection:  # a pull's page, lost
        connection.execute(delete(ProviderRow).where(ProviderRow.provider == PROVIDER,
                                                     ProviderRow.bet_ref == bet.bet_ref))
    time.sleep(FEED_LAG + 0.5)
    end = datetime.now(UTC)

    # the cursor feed has gone past the record: it never brings it again
    assert ("missing_there", bet.bet_ref) in found(reconcile(stack.context, PROVIDER, start,
                                                             end))
    refilled = reconcile(stack.context, PROVIDER, start, end, refill=True)

    assert ("missing_there", bet.bet_ref) not in found(refilled)
    assert any(note.startswith("refilled from the provider's time-range history")
               for note in refilled.notes), refilled.notes
    with stack.context.db.unit_of_work() as session:
        back = session.scalars(select(ProviderRow.hand).where(
            ProviderRow.provider == PROVIDER, ProviderRow.bet_ref == bet.bet_ref)).all()
    assert back == ["last"]


def test_the_console_lists_each_difference_with_both_sides_and_a_link_to_its_bet(
        stack: Stack, planted: Planted, api: Api) -> None:
    browser = signed_in(api.url, new_person(stack.context, "viewer"))
    page = browser.get(f"{api.url}/console/differences?all=1", timeout=10).text
    assert f'href="/console/bets/{planted.altered.id}"' in page
    row = page.split(f"{PROVIDER}/{planted.altered.bet_ref}</a>")[1].split("</tr>")[0]
    assert "payout_differs" in row and "payout: 5.00" in row and "7.50" in row
    for ref in planted.unknown_here:
        assert f"{PROVIDER}/{ref} (not here)" in page
