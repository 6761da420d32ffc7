"""The comparison of a provider's history with betguard's bets: every kind of difference,
the horizon that keeps the feed's lag from looking like a difference, and the
summary-first mode that narrows days to hours and finds what the row mode finds."""

from __future__ import annotations

import csv
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from betguard.ops.reconcile_reports import render_html, write_csv
from betguard.services.reconcile import Report
from betguard.services.reconcile_compare import (
    HereBet,
    Kind,
    ThereRow,
    compare,
    fold_round,
)
from betguard.services.reconcile_store import Found
from betguard.services.reconcile_summary import compare_summary

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
LAG = timedelta(seconds=300)
HORIZON = T0 + timedelta(hours=2)
_ids = iter(range(1, 1_000_000))


def bet(ref: str, state: str = "settled", payout: str | None = "5.00", *,
        at: datetime = T0, final_at: datetime | None = None, currency: str = "EUR") -> HereBet:
    final = final_at if final_at is not None else (
        at + timedelta(seconds=30) if state in ("settled", "refunded", "refund_pending") else None)
    return HereBet(next(_ids), ref, state, Decimal("10.00"),
                   Decimal(payout) if payout is not None else None, currency, at, final)


def row(ref: str, status: str = "settled", payout: str | None = "5.00", *,
        row_id: str | None = None, at: datetime = T0, currency: str = "EUR",
        settled_at: datetime | None = None) -> ThereRow:
    ended = settled_at if settled_at is not None else (
        at + timedelta(seconds=20) if status != "pending" else None)
    return ThereRow(row_id or f"row-{ref}", ref, status, 1, Decimal("10.00"),
                    Decimal(payout) if payout is not None else None, currency, at, ended)


def kinds(here: list[HereBet], there: list[ThereRow], horizon: datetime = HORIZON
          ) -> list[tuple[str, str]]:
    found = compare(here, there, horizon=horizon, feed_lag=LAG).differences
    return [(d.kind.value, d.bet_ref) for d in found]


def test_bets_that_agree_on_both_sides_are_no_difference() -> None:
    here = [bet("a"), bet("b", "refunded", None), bet("c", "pending", None)]
    there = [row("a"), row("b", "cancelled", None), row("c", "pending", None)]

    assert kinds(here, there) == []


def test_a_bet_only_the_provider_has_is_missing_here() -> None:
    assert kinds([], [row("a"), row("b", "pending", None)]) == [
        ("missing_here", "a"), ("missing_here", "b")]


def test_a_bet_the_provider_cancelled_and_betguard_never_had_owes_nothing() -> None:
    assert kinds([], [row("a", "cancelled", None)]) == []


def test_a_settled_bet_the_provider_lacks_is_missing_there() -> None:
    assert kinds([bet("a")], []) == [("missing_there", "a")]


def test_a_refunded_bet_the_provider_lacks_is_no_difference() -> None:
    assert kinds([bet("a", "refunded", None), bet("b", "refund_pending", None)], []) == []


def test_a_waiting_bet_the_provider_lacks_is_missing_only_once_the_feed_had_time_to_show_it(
) -> None:
    recent = bet("recent", "pending", None, at=HORIZON - LAG + timedelta(seconds=1))
    old = bet("old", "pending", None, at=HORIZON - LAG - timedelta(seconds=1))

    found = compare([recent, old], [], horizon=HORIZON, feed_lag=LAG)

    assert [(d.kind, d.bet_ref) for d in found.differences] == [(Kind.MISSING_THERE, "old")]
    assert found.not_yet == 1


def test_different_payouts_or_currencies_of_a_settled_bet_differ() -> None:
    here = [bet("a", payout="5.00"), bet("b", currency="EUR"), bet("c", payout="5.00")]
    there = [row("a", payout="6.50"), row("b", currency="USD"), row("c", payout="5.0000")]

    assert kinds(here, there) == [("payout_differs", "a"), ("payout_differs", "b")]


def test_final_here_and_final_otherwise_there_is_a_state_difference() -> None:
    here = [bet("refunded-settled", "refunded", None), bet("settled-cancelled")]
    there = [row("refunded-settled"), row("settled-cancelled", "cancelled", None)]

    assert kinds(here, there) == [("state_differs", "refunded-settled"),
                                  ("state_differs", "settled-cancelled")]


def test_waiting_here_and_final_there_is_a_state_difference() -> None:
    here = [bet("pending", "pending", None), bet("review", "in_review", None)]
    there = [row("pending"), row("review", "cancelled", None)]

    assert kinds(here, there) == [("state_differs", "pending"), ("state_differs", "review")]


def test_a_result_there_newer_than_the_horizon_is_not_a_difference_yet() -> None:
    waiting = bet("a", "pending", None, at=T0)
    late = row("a", settled_at=HORIZON + timedelta(seconds=1))

    found = compare([waiting], [late], horizon=HORIZON, feed_lag=LAG)

    assert found.differences == [] and found.not_yet == 1
    assert kinds([waiting], [replace(late, settled_at=HORIZON - timedelta(seconds=1))]) == [
        ("state_differs", "a")]


def test_a_pending_row_against_a_bet_final_after_the_horizon_is_not_a_difference_yet() -> None:
    final_late = bet("a", final_at=HORIZON + timedelta(seconds=1))
    final_early = bet("b", final_at=HORIZON - timedelta(seconds=1))
    there = [row("a", "pending", None), row("b", "pending", None)]

    found = compare([final_late, final_early], there, horizon=HORIZON, feed_lag=LAG)

    assert [(d.kind, d.bet_ref) for d in found.differences] == [(Kind.STATE_DIFFERS, "b")]
    assert found.not_yet == 1


def test_two_provider_rows_for_one_bet_are_a_duplicate_and_only_that() -> None:
    here = [bet("a")]
    there = [row("a", row_id="1"), row("a", row_id="2")]

    found = compare(here, there, horizon=HORIZON, feed_lag=LAG).differences

    assert [(d.kind, d.bet_ref) for d in found] == [(Kind.DUPLICATE, "a")]
    assert [r["row_id"] for r in found[0].there_facts()["rows"]] == ["1", "2"]
    assert found[0].here_facts()["bet_ref"] == "a"


def test_a_duplicate_that_also_disagrees_is_both() -> None:
    there = [row("a", payout="7.00", row_id="1"), row("a", payout="8.00", row_id="2")]

    assert kinds([bet("a")], there) == [("duplicate", "a"), ("payout_differs", "a")]


def test_a_duplicate_of_a_bet_betguard_lacks_is_both_missing_and_duplicate() -> None:
    assert kinds([], [row("a", row_id="1"), row("a", row_id="2")]) == [
        ("duplicate", "a"), ("missing_here", "a")]


def test_both_sides_facts_are_kept_with_each_difference() -> None:
    [found] = compare([bet("a", payout="5.00")], [row("a", payout="6.50")], horizon=HORIZON,
                      feed_lag=LAG).differences

    assert found.here_facts()["payout"] == "5.00" and found.here_facts()["state"] == "settled"
    assert found.there_facts()["rows"][0]["payout"] == "6.50"
    assert "5.00" in found.why and "6.50" in found.why


# -- summary first ------------------------------------------------------------------------


def mixed_history(seed: int) -> tuple[list[HereBet], list[ThereRow], set[tuple[str, str]]]:
    """Three days of bets, most agreeing, with differences of every kind planted on
    some hours; returns both sides and what was planted."""
    rng = random.Random(seed)
    here: list[HereBet] = []
    there: list[ThereRow] = []
    planted: set[tuple[str, str]] = set()
    start = T0.replace(hour=0) - timedelta(days=2)
    for i in range(400):
        at = start + timedelta(seconds=rng.randrange(0, 3 * 24 * 3600 - 7200))
        ref = f"r{i}"
        fate = rng.random()
        if fate < 0.02:
            there.append(row(ref, at=at))
            planted.add(("missing_here", ref))
        elif fate < 0.04:
            here.append(bet(ref, at=at))
            planted.add(("missing_there", ref))
        elif fate < 0.06:
            here.append(bet(ref, payout="5.00", at=at))
            there.append(row(ref, payout="6.00", at=at + timedelta(milliseconds=5)))
            planted.add(("payout_differs", ref))
        elif fate < 0.08:
            here.append(bet(ref, "refunded", None, at=at))
            there.append(row(ref, "settled", "0.00", at=at))  # the payout sum stays equal
            planted.add(("state_differs", ref))
        elif fate < 0.10:
            here.append(bet(ref, at=at))
            there.extend([row(ref, at=at, row_id=f"{ref}-1"), row(ref, at=at, row_id=f"{ref}-2")])
            planted.add(("duplicate", ref))
        elif fate < 0.12:
            here.append(bet(ref, "refunded", None, at=at))  # refunded, never taken: fine
        else:
            here.append(bet(ref, at=at))
            there.append(row(ref, at=at - timedelta(milliseconds=3)))
    return here, there, planted


def test_summary_first_finds_exactly_what_the_row_by_row_comparison_finds() -> None:
    for seed in range(5):
        here, there, planted = mixed_history(seed)
        window_from = T0.replace(hour=0) - timedelta(days=2)
        window_to = horizon = window_from + timedelta(days=3)

        rows_mode = compare(here, there, horizon=horizon, feed_lag=LAG)
        summary = compare_summary(here, there, window_from=window_from, window_to=window_to,
                                  horizon=horizon, feed_lag=LAG)

        def found(differences: list) -> set[tuple[str, str]]:  # type: ignore[type-arg]
            return {(d.kind.value, d.bet_ref) for d in differences}

        assert found(rows_mode.differences) == planted
        assert found(summary.comparison.differences) == planted
        # It narrowed: not every bet was compared row by row, and only suspect days
        # were split into hours.
        assert summary.comparison.compared_here < rows_mode.compared_here
        days = [t for t in summary.totals if t.unit == "day"]
        hours = [t for t in summary.totals if t.unit == "hour"]
        assert len(days) == 3 and hours
        suspect_days = {t.start for t in days if t.differs}
        assert {h.start.replace(hour=0) for h in hours} <= suspect_days


def test_summary_first_compares_no_row_when_every_total_agrees() -> None:
    here = [bet(f"r{i}", at=T0 + timedelta(minutes=i)) for i in range(30)]
    there = [row(f"r{i}", at=T0 + timedelta(minutes=i)) for i in range(30)]

    summary = compare_summary(here, there, window_from=T0 - timedelta(days=1),
                              window_to=HORIZON, horizon=HORIZON, feed_lag=LAG)

    assert summary.comparison.compared_here == 0 and summary.comparison.differences == []
    assert [t.unit for t in summary.totals] == ["day"]
    assert summary.totals[0].here.count == summary.totals[0].there.count == 30


def test_summary_first_sees_two_differences_whose_sums_cancel_out() -> None:
    here = [bet("ours", at=T0), bet("same", at=T0)]
    there = [row("theirs", at=T0), row("same", at=T0)]  # same count, stake and payout

    summary = compare_summary(here, there, window_from=T0, window_to=HORIZON,
                              horizon=HORIZON, feed_lag=LAG)

    assert {(d.kind.value, d.bet_ref) for d in summary.comparison.differences} == {
        ("missing_there", "ours"), ("missing_here", "theirs")}
    day = summary.totals[0]
    assert (day.here.count, day.here.stake, day.here.payout) == (
        day.there.count, day.there.stake, day.there.payout)


# -- reports ------------------------------------------------------------------------------


def hostile_report(tmp_path: Path) -> Report:
    ref = '<script>alert("x")</script>'
    rows = {"rows": [{"row_id": "=HYPERLINK(\"http://evil\")", "status": "settled",
                      "payout": "1.00", "currency": "<b>EUR</b>", "settled_at": None}]}
    found = Found(1, "missing_here", ref, None, "the provider has a bet betguard lacks", {},
                  rows, None, True)
    return Report(7, "pg<i>soft</i>", "rows", T0, HORIZON, HORIZON - LAG, HORIZON - LAG, 0, 1,
                  2, 3, 0, [found], notes=["pull of feed '<img src=x>' failed"])


def test_the_html_report_escapes_everything_the_provider_sent(tmp_path: Path) -> None:
    html = render_html(hostile_report(tmp_path))

    assert "<script>" not in html and "<img" not in html and "<b>EUR" not in html
    assert "&lt;script&gt;" in html and "pg&lt;i&gt;soft" in html
    assert "left out as too recent" in html  # the window was clipped to the horizon


def test_a_csv_cell_a_spreadsheet_would_run_as_a_formula_is_quoted(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    write_csv(hostile_report(tmp_path), path)

    [line] = list(csv.DictReader(path.open()))
    assert line["there_rows"] == "'=HYPERLINK(\"http://evil\")"
    assert (line["kind"], line["bet_ref"]) == ("missing_here", '<script>alert("x")</script>')


def test_the_bets_of_one_round_are_compared_as_the_round_with_its_one_row() -> None:
    first, second = bet("g:1", payout="0.00"), bet("g:1", payout="0.00")
    folded = fold_round([second, first])

    assert (folded.bet_id, folded.bets, folded.stake) == (first.bet_id, 2, Decimal("20.00"))
    assert folded.facts()["bets"] == 2
    assert kinds([folded], [row("g:1", payout="0.00")]) == []


def test_a_rounds_bets_that_ended_in_different_ways_are_a_state_difference() -> None:
    folded = fold_round([bet("g:2", payout="0.00"), bet("g:2", "refunded", None)])

    found = compare([folded], [row("g:2", payout="0.00")], horizon=HORIZON,
                    feed_lag=LAG).differences
    assert [(d.kind, d.bet_ref) for d in found] == [(Kind.STATE_DIFFERS, "g:2")]
    assert "2 bets ended in different ways" in found[0].why


def test_a_round_with_a_bet_still_open_is_open() -> None:
    folded = fold_round([bet("g:3", payout="0.00"), bet("g:3", "in_review", None)])

    assert (folded.state, folded.final_at, folded.payout) == ("in_review", None, None)
