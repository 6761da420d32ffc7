"""``betguard reconcile``: compare a provider's history with the bets over a window;
``betguard differences``: list the differences found, and close one with a note.

``reconcile`` exits 1 when it found differences, 0 when clean, and 2 when it could
not reconcile (a bad time, an unknown provider, a provider without a history feed,
an empty window, a feed never pulled): each refusal is one ``error:`` line naming
what is wrong.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import click
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from betguard.config.settings import SettingsError
from betguard.models.domain.errors import BetguardError
from betguard.models.store.tables import ReconciliationDifference
from betguard.ops import output
from betguard.ops.reconcile_reports import key_facts, write_csv, write_html
from betguard.ops.runtime import OpsCommand, describe, json_option, open_ops
from betguard.ops.views import short_time
from betguard.services.reconcile import Report, reconcile
from betguard.services.reconcile_store import resolve_difference

CLEAN, FOUND, REFUSED = 0, 1, 2


def parse_moment(text: str, name: str) -> datetime:
    """An ISO-8601 time; one without a zone is UTC."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise click.BadParameter(f"{text!r} is not an ISO-8601 time "
                                 "(e.g. 2026-03-01T10:00:00Z)", param_hint=name) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _refuse(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    raise SystemExit(REFUSED)


@click.command(name="reconcile")
@click.option("--provider", required=True, help="The provider whose history to compare.")
@click.option("--from", "window_from", required=True, metavar="TIME",
              help="Start of the window (ISO-8601, UTC if no zone): bets placed from then.")
@click.option("--to", "window_to", required=True, metavar="TIME",
              help="End of the window (exclusive); clipped to the feed's horizon.")
@click.option("--summary-first", is_flag=True,
              help="Compare totals per day, then per hour where they differ, and rows only "
                   "in the hours that differ.")
@click.option("--no-pull", is_flag=True, help="Compare the mirror as it is, without pulling "
                                               "the provider's feeds first.")
@click.option("--refill", is_flag=True,
              help="First read the window again from the provider's time-range history "
                   "(PG's GetHistoryForSpecificTimeRange) into the mirror: records the "
                   "cursor feed never brought are then compared too.")
@click.option("--csv", "csv_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Write one line per difference to this file.")
@click.option("--html", "html_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a self-contained HTML report to this file.")
@json_option
def reconcile_command(provider: str, window_from: str, window_to: str, summary_first: bool,
                      no_pull: bool, refill: bool, csv_file: Path | None,
                      html_file: Path | None, as_json: bool) -> None:
    """Compare a provider's history with betguard's bets; exit 1 if they differ.

    Differences are stored once (a second run stores nothing new), each on its bet as a
    review item, unless a bet still pending is final at the provider: its check is then
    woken and settles it. A bet betguard lacks stays open in `betguard differences`.
    """
    try:
        start = parse_moment(window_from, "--from")
        end = parse_moment(window_to, "--to")
    except click.BadParameter as exc:
        _refuse(f"{exc.param_hint}: {exc.message}")
    if start >= end:
        _refuse(f"--from ({start.isoformat()}) must be before --to ({end.isoformat()})")
    try:
        with open_ops() as ops:
            report = reconcile(ops.context, provider, start, end,
                               mode="summary" if summary_first else "rows", pull=not no_pull,
                               refill=refill)
    except (BetguardError, SettingsError, ValidationError, OperationalError) as exc:
        _refuse(describe(exc))
    if csv_file is not None:
        write_csv(report, csv_file)
    if html_file is not None:
        write_html(report, html_file)
    if as_json:
        output.emit_json(report.as_json())
    else:
        print_report(report)
    raise SystemExit(FOUND if report.differences else CLEAN)


def print_report(report: Report) -> None:
    output.say(f"reconciliation {report.run_id} of {report.provider} ({report.mode}): "
               f"{short_time(report.window_from)} to {short_time(report.window_to)}")
    if report.clipped:
        output.say(f"  compared up to the feed's horizon {short_time(report.compared_to)}; "
                   f"{report.left_out_here} bets and {report.left_out_there} provider rows "
                   "placed after it were left out as too recent")
    output.say(f"  compared {report.compared_here} bets with {report.compared_there} provider "
               f"rows; {report.not_yet} not decidable yet (the feed's lag)")
    for note in report.notes:
        output.say(f"  note: {note}", style="yellow")
    output.table(["kind", "differences"],
                 [[kind, str(count)] for kind, count in report.counts().items()],
                 title="summary", empty="no differences")
    if report.totals:
        output.table(["period", "unit", "count", "stake", "payout", "differs"],
                     [[t["start"], t["unit"], f"{t['here']['count']} / {t['there']['count']}",
                       f"{t['here']['stake']} / {t['there']['stake']}",
                       f"{t['here']['payout']} / {t['there']['payout']}",
                       "yes" if t["differs"] else "no"] for t in report.totals],
                     title="totals compared (here / there)", empty="none")
    if report.differences:
        output.table(["id", "kind", "bet", "here", "there", "resolution"],
                     [_difference_row(key_facts(found)) for found in report.differences],
                     title="differences", empty="none")


def _difference_row(facts: dict[str, Any]) -> list[str]:
    here = (f"{facts['here_state']} {facts['here_payout'] or '-'} {facts['here_currency']}"
            if facts["here_state"] else "(no bet)")
    there = (f"{facts['there_status']} {facts['there_payout'] or '-'} "
             f"{facts['there_currency']}" if facts["there_rows"] else "(no row)")
    resolution = facts["resolution"] or "open"
    if facts["new"] == "no":
        resolution += " (known before)"
    return [str(facts["id"]), facts["kind"], facts["bet_ref"], here, there, resolution]


@click.group(name="differences")
def differences() -> None:
    """Reconciliation differences: list them, close one."""


@differences.command(name="list", cls=OpsCommand)
@click.option("--provider", help="Only this provider's.")
@click.option("--all", "show_all", is_flag=True, help="Resolved ones too.")
@json_option
def list_differences(provider: str | None, show_all: bool, as_json: bool) -> None:
    """Open differences (oldest first), or every one with --all."""
    query = select(ReconciliationDifference).order_by(ReconciliationDifference.id)
    if provider is not None:
        query = query.where(ReconciliationDifference.provider == provider)
    if not show_all:
        query = query.where(ReconciliationDifference.resolved_at.is_(None))
    with open_ops() as ops, ops.context.db.unit_of_work() as session:
        rows = [_difference_json(row) for row in session.scalars(query.limit(1000))]
    if as_json:
        output.emit_json(rows)
        return
    output.table(["id", "provider", "kind", "bet", "found", "resolution"],
                 [[str(r["id"]), r["provider"], r["kind"], r["bet_ref"],
                   short_time(r["found_at"]), r["resolution"] or "open"] for r in rows],
                 title="reconciliation differences", empty="none")


@differences.command(name="resolve", cls=OpsCommand)
@click.argument("difference_id", type=int)
@click.option("--operator", envvar="BETGUARD_OPERATOR", required=True,
              help="Who decides (or BETGUARD_OPERATOR).")
@click.option("--note", required=True, help="Why it is closed: recorded with it.")
@json_option
def resolve(difference_id: int, operator: str, note: str, as_json: bool) -> None:
    """Close a difference with a note (and the review item it opened on its bet)."""
    with open_ops() as ops:
        row = resolve_difference(ops.context, difference_id, operator=operator, note=note)
    if as_json:
        output.emit_json(_difference_json(row))
        return
    output.say(f"difference {row.id} ({row.kind} of {row.provider}/{row.bet_ref}) resolved")


def _difference_json(row: ReconciliationDifference) -> dict[str, Any]:
    return {"id": row.id, "run_id": row.run_id, "provider": row.provider,
            "bet_ref": row.bet_ref, "kind": row.kind, "bet_id": row.bet_id, "here": row.here,
            "there": row.there, "found_at": row.found_at, "resolved_at": row.resolved_at,
            "resolution": row.resolution, "operator": row.operator, "note": row.note}
