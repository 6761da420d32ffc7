"""Metrics agree with the truth: what /metrics reads from the database matches the
database, and what the provider worker counts matches the history it wrote."""

from __future__ import annotations

import io
import json
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from betguard.logs import bet_context, configure_handlers
from betguard.metrics import make_metrics_app, specs
from betguard.models.domain.snapshot import BetSnapshot
from betguard.models.domain.states import BetState
from betguard.models.store.tables import (
    AuditEvent,
    Bet,
    FeedCursor,
    GamePause,
    Notification,
    ReconciliationDifference,
    Review,
    SweepStat,
)
from betguard.services.notifications import resend_dead
from betguard.services.results import report_result
from tests.integration.harness import Stack, served, wait_until

pytestmark = pytest.mark.integration

Series = dict[frozenset[tuple[str, str]], float]
PROVIDERS = ("patient", "refunder", "reviewer", "fencing")


def scrape(url: str) -> dict[str, Series]:
    samples: dict[str, Series] = defaultdict(dict)
    for family in text_string_to_metric_families(requests.get(url, timeout=10).text):
        for sample in family.samples:
            samples[sample.name][frozenset(sample.labels.items())] = sample.value
    return samples


def by(series: Series, *labels: str) -> dict[tuple[str, ...], float]:
    """Values keyed by the named labels, summed over the others; zeros left out."""
    summed: dict[tuple[str, ...], float] = defaultdict(float)
    for key, value in series.items():
        summed[tuple(dict(key)[label] for label in labels)] += value
    return {key: value for key, value in summed.items() if value}


def rows(stack: Stack, query: Any) -> dict[tuple[Any, ...], Any]:
    """A grouped query's rows as {group: value} (the last column is the value)."""
    with stack.context.db.unit_of_work() as session:
        return {tuple(row[:-1]): row[-1] for row in session.execute(query)}


def agreed(url: str, read_db: Callable[[], Any]) -> tuple[Any, dict[str, Series]]:
    """Read the database, scrape, read again, until nothing moved in between: that
    scrape must then show exactly what the database holds."""

    def probe() -> tuple[Any, dict[str, Series]] | None:
        before, seen, after = read_db(), scrape(url), read_db()
        return (after, seen) if before == after else None

    return wait_until(probe, 30)  # type: ignore[no-any-return]



def notification_states(stack: Stack, *bet_ids: int) -> list[str]:
    query = select(Notification.id, Notification.state).where(Notification.bet_id.in_(bet_ids))
    return list(rows(stack, query).values())


@dataclass(frozen=True)
class Scenario:
    since: datetime  # the provider worker (and its counters) started after this
    retried: BetSnapshot  # its first status call failed once and was retried


@pytest.fixture(scope="module")
def scenario(stack: Stack) -> Iterator[Scenario]:
    """Bets driven into every state and a dead letter, all seen by a fresh provider worker."""
    receiver = stack.receiver
    assert receiver is not None
    stack.stop_workers()  # a fresh provider worker: its counters start from zero
    since = datetime.now(UTC)
    stack.start_workers()
    settled = stack.place("patient", fate="returned", payout="4.00", fault="error_503")
    refunded = stack.place("refunder", fate="never", stake="12.50")
    unknown = stack.place("fencing", fate="unknown", stake="7.25")  # fenced, then refunded
    review = stack.place("reviewer", fate="never")
    pending = stack.place("sleepy", fate="never")  # its first check is a minute away
    for bet, state in [(settled, BetState.SETTLED), (refunded, BetState.REFUNDED),
                       (unknown, BetState.REFUNDED), (review, BetState.IN_REVIEW)]:
        stack.wait_for_state(bet.id, state)
    ids = (settled.id, refunded.id, unknown.id, review.id)
    wait_until(lambda: notification_states(stack, *ids) == ["delivered"] * 4, 30)
    receiver.down = True
    try:
        doomed = stack.place("patient", fate="returned", payout="9.00")
        report_result(stack.context, "patient", doomed.bet_ref, payout="9.00", currency="EUR")
        wait_until(lambda: notification_states(stack, doomed.id) == ["dead"], 30)
    finally:
        receiver.down = False
    [dead] = rows(stack, select(Notification.event_id, Notification.bet_id)
                  .where(Notification.bet_id == doomed.id))
    yield Scenario(since, settled)
    resend_dead(stack.context, list(dead))  # leave no dead letter for other tests
    report_result(stack.context, "sleepy", pending.bet_ref, payout="0.00", currency="EUR")
    wait_until(lambda: notification_states(stack, doomed.id) == ["delivered"], 30)


@pytest.fixture(scope="module")
def db_metrics(stack: Stack) -> Iterator[str]:
    with served(make_metrics_app(stack.context.db), "/metrics") as url:
        yield url


@pytest.fixture
def worker_metrics(stack: Stack, scenario: Scenario) -> str:
    return f"http://127.0.0.1:{stack.metrics_port}/metrics"


def history_count(stack: Stack, *kinds: str, since: datetime | None = None,
                  provider: str | None = None) -> int:
    query = (select(func.count()).select_from(AuditEvent).join(Bet, Bet.id == AuditEvent.bet_id)
             .where(AuditEvent.kind.in_(kinds)))
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    if provider is not None:
        query = query.where(Bet.provider == provider)
    with stack.context.db.unit_of_work() as session:
        return int(session.scalar(query) or 0)


# -- read from the database ------------------------------------------------------------------

def test_bets_are_counted_per_state_and_provider_as_the_database_has_them(
    stack: Stack, scenario: Scenario, db_metrics: str
) -> None:
    query = select(Bet.state, Bet.provider, func.count()).group_by(Bet.state, Bet.provider)
    truth, seen = agreed(db_metrics, lambda: rows(stack, query))

    assert by(seen["betguard_bets"], "state", "provider") == truth
    assert all(truth[key] for key in [("settled", "patient"), ("refunded", "refunder"),
                                      ("in_review", "reviewer"), ("pending", "sleepy")])
    sleepy = {dict(k)["state"] for k in seen["betguard_bets"] if ("provider", "sleepy") in k}
    assert sleepy == {s.value for s in BetState}  # zeros are shown, not left out


def test_the_oldest_pending_bet_of_each_provider_is_as_old_as_the_database_says(
    stack: Stack, scenario: Scenario, db_metrics: str
) -> None:
    query = (select(Bet.provider, func.min(Bet.placed_at))
             .where(Bet.state == "pending").group_by(Bet.provider))
    started = time.time()
    truth, seen = agreed(db_metrics, lambda: rows(stack, query))
    ages = by(seen["betguard_oldest_pending_age_seconds"], "provider")

    assert set(ages) == set(truth) and ("sleepy",) in ages
    for provider, placed_at in truth.items():
        oldest = started - placed_at.timestamp()
        assert oldest - 1 <= ages[provider] <= time.time() - placed_at.timestamp() + 1


def test_open_reviews_notifications_and_dead_letters_are_counted_as_the_database_has_them(
    stack: Stack, scenario: Scenario, db_metrics: str
) -> None:
    reviews = (select(Review.reason, func.count()).where(Review.resolved_at.is_(None))
               .group_by(Review.reason))
    notifications = select(Notification.state, func.count()).group_by(Notification.state)
    (open_reviews, outbox), seen = agreed(
        db_metrics, lambda: (rows(stack, reviews), rows(stack, notifications)))

    assert by(seen["betguard_open_reviews"], "reason") == open_reviews
    assert by(seen["betguard_notifications"], "state") == outbox
    [dead_letters] = seen["betguard_notification_dead_letters"].values()
    assert open_reviews[("deadline",)] >= 1 and dead_letters == outbox[("dead",)] >= 1


def test_refunds_and_refunded_stakes_are_counted_as_the_database_has_them(
    stack: Stack, scenario: Scenario, db_metrics: str
) -> None:
    group = (Bet.provider, Bet.currency)
    refunded = select(*group).where(Bet.state == "refunded").group_by(*group)
    counts, amounts = refunded.add_columns(func.count()), refunded.add_columns(func.sum(Bet.stake))
    (count, amount), seen = agreed(db_metrics, lambda: (rows(stack, counts), rows(stack, amounts)))

    assert by(seen["betguard_refunds_total"], "provider", "currency") == count
    assert by(seen["betguard_refunded_amount_total"], "provider", "currency") == {
        key: float(total) for key, total in amount.items()}
    assert count[("refunder", "EUR")] >= 1 and amount[("fencing", "EUR")] >= 7.25


def test_each_sweep_reports_its_runs_and_every_wake_up_it_dispatched(
    stack: Stack, scenario: Scenario, db_metrics: str
) -> None:
    def dispatched() -> list[int]:  # every wake-up a sweep sends leaves an event
        return [history_count(stack, f"{kind}_dispatched_by_sweep") for kind in ("check", "refund")]

    def items() -> list[int]:
        stats = rows(stack, select(SweepStat.kind, SweepStat.items))
        return [stats.get((kind,), 0) for kind in ("checks", "refunds")]

    wait_until(lambda: items() == dispatched(), 30, lambda: f"{items()} vs {dispatched()}")
    runs, seen = agreed(db_metrics, lambda: rows(stack, select(SweepStat.kind, SweepStat.runs)))

    assert set(runs) == {("checks",), ("refunds",), ("notifications",)}
    assert by(seen["betguard_sweep_runs_total"], "kind") == runs
    shown = by(seen["betguard_sweep_items_total"], "kind")
    assert [shown.get((kind,), 0) for kind in ("checks", "refunds")] == items()
    for kind, last_run in by(seen["betguard_sweep_last_run_timestamp_seconds"], "kind").items():
        assert time.time() - last_run < 30, kind  # beat sweeps every second here


def test_feeds_differences_and_paused_games_are_shown_as_the_database_has_them(
    stack: Stack, scenario: Scenario, db_metrics: str
) -> None:
    wait_until(lambda: rows(stack, select(FeedCursor.provider, FeedCursor.feed,
                                          FeedCursor.last_success_at)), 30)  # beat pulls
    feeds = select(FeedCursor.provider, FeedCursor.feed, FeedCursor.rows_seen)
    differences = (select(ReconciliationDifference.provider, ReconciliationDifference.kind,
                          func.count())
                   .where(ReconciliationDifference.resolved_at.is_(None))
                   .group_by(ReconciliationDifference.provider, ReconciliationDifference.kind))
    paused = (select(GamePause.provider, func.count()).where(GamePause.paused.is_(True))
              .group_by(GamePause.provider))
    (seen_rows, open_differences, paused_games), seen = agreed(
        db_metrics, lambda: (rows(stack, feeds), rows(stack, differences), rows(stack, paused)))

    assert by(seen["betguard_feed_rows_total"], "provider", "feed") == {
        key: value for key, value in seen_rows.items() if value}
    assert by(seen["betguard_reconciliation_open_differences"], "provider", "kind") == \
        open_differences
    assert by(seen["betguard_games_paused"], "provider") == paused_games
    ages = {(dict(key)["provider"], dict(key)["feed"]): value
            for key, value in seen["betguard_feed_last_success_age_seconds"].items()}
    assert set(ages) == set(seen_rows)  # every feed, pulled or not
    assert 0 <= ages[("pgsoft", "history")] < 30  # beat pulls it every second here
    kinds = {dict(key)["kind"] for key in seen["betguard_reconciliation_open_differences"]
             if dict(key)["provider"] == "pgsoft"}
    assert kinds == {"missing_here", "missing_there", "payout_differs", "state_differs",
                     "duplicate"}  # zeros are shown, not left out


# -- counted by the provider worker ----------------------------------------------------------

def eventually_equal(counted: Callable[[], float], recorded: Callable[[], int]) -> None:
    wait_until(lambda: counted() == recorded(), 30, lambda: f"{counted()} != {recorded()}")


def test_the_worker_counts_one_check_for_every_check_the_history_shows(
    stack: Stack, scenario: Scenario, worker_metrics: str
) -> None:
    def counted(provider: str) -> float:  # a stale delivery did nothing, not even start
        checks = by(scrape(worker_metrics)["betguard_checks_total"], "provider", "outcome")
        return sum(v for (p, outcome), v in checks.items() if p == provider and outcome != "stale")

    for provider in PROVIDERS:
        eventually_equal(partial(counted, provider),
                         partial(history_count, stack, "check_started", since=scenario.since,
                                 provider=provider))
    outcomes = by(scrape(worker_metrics)["betguard_checks_total"], "provider", "outcome")
    assert {("patient", "settled"), ("fencing", "refund"), ("refunder", "refund"),
            ("reviewer", "review")} <= set(outcomes)
    assert not any(outcome == "error" for _provider, outcome in outcomes)


def test_every_provider_call_is_timed_with_its_result(
    stack: Stack, scenario: Scenario, worker_metrics: str
) -> None:
    def calls(provider: str, call: str) -> float:
        series = scrape(worker_metrics)["betguard_provider_call_seconds_count"]
        return by(series, "provider", "call").get((provider, call), 0)

    answers = {"status": ("provider_answered", "provider_error"),
               "cancel": ("cancel_answered", "cancel_failed")}
    for provider in PROVIDERS:
        for call, kinds in answers.items():
            eventually_equal(partial(calls, provider, call),
                             partial(history_count, stack, *kinds, since=scenario.since,
                                     provider=provider))
    results = by(scrape(worker_metrics)["betguard_provider_call_seconds_count"],
                 "provider", "call", "result")
    assert results[("refunder", "cancel", "ok")] >= 1
    assert results[("patient", "status", "ok")] >= 1
    assert results[("fencing", "status", "ok")] >= 2  # "never saw it" until believed


def test_the_worker_counts_refund_attempts_and_deliveries_by_outcome(
    stack: Stack, scenario: Scenario, worker_metrics: str
) -> None:
    def outcomes(name: str) -> dict[tuple[str, ...], float]:
        return by(scrape(worker_metrics)[name], "outcome")

    delivered = select(func.count()).where(Notification.delivered_at >= scenario.since)

    eventually_equal(lambda: outcomes("betguard_refund_attempts_total").get(("refunded",), 0),
                     lambda: history_count(stack, "bet_refunded", since=scenario.since))
    eventually_equal(
        lambda: outcomes("betguard_notification_deliveries_total").get(("delivered",), 0),
        lambda: rows(stack, delivered)[()])
    deliveries = outcomes("betguard_notification_deliveries_total")
    assert deliveries[("dead",)] >= 1 and deliveries[("retry",)] >= 3  # 4 attempts, then dead


def test_every_metric_alerts_and_dashboards_may_name_is_exposed(
    scenario: Scenario, db_metrics: str, worker_metrics: str
) -> None:
    exposed = {**scrape(db_metrics), **scrape(worker_metrics)}

    for spec in (*specs.DATABASE_SPECS, *specs.WORKER_SPECS):
        for name, labels in spec.series.items():
            assert name in exposed, name
            assert all({label for label, _ in key} == set(labels) for key in exposed[name]), name


def test_a_worker_log_line_about_a_bet_names_it_even_when_its_message_does_not(
    stack: Stack, scenario: Scenario
) -> None:
    ref = scenario.retried.bet_ref
    lines = stack.workers[0].log.read_text(errors="replace").splitlines()

    [retry] = [line for line in lines if f"/bets/{ref} failed (attempt 1" in line]
    assert retry.endswith(f"[bet patient/{ref}]")


def test_a_json_log_line_about_a_bet_carries_its_reference_and_provider() -> None:
    stream = io.StringIO()
    logger = logging.getLogger("betguard.test_metrics")
    logger.addHandler(logging.StreamHandler(stream))
    logger.propagate = False
    configure_handlers(logger, json=True)

    with bet_context("refunder/bet-7f3a"):
        logger.warning("provider slow: %s", "timeout")
    logger.warning("no bet here")

    about_bet, other = (json.loads(line) for line in stream.getvalue().splitlines())
    assert (about_bet["message"], about_bet["level"]) == ("provider slow: timeout", "WARNING")
    assert (about_bet["bet_ref"], about_bet["provider"]) == ("bet-7f3a", "refunder")
    assert "bet_ref" not in other and "provider" not in other
