"""``betguard audit``: the audit of audit.py, read from the database and the
simulator, printed as a table or JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import click
import requests

from betguard.config.settings import get_settings
from betguard.models.store.db import Database
from betguard_devkit.audit import AuditReport, audit, merge_truths


def run_audit(simulator_urls: tuple[str, ...], *, prefixes: tuple[str, ...], slack: float,
              as_json: bool) -> int:
    truths = []
    for url in simulator_urls:
        try:
            truths.append(requests.get(f"{url.rstrip('/')}/_sim/truth", timeout=120).json())
        except (requests.RequestException, ValueError) as exc:
            click.echo(f"error: cannot read the truth from {url}: {exc}", err=True)
            return 2
    truth = merge_truths(truths)
    db = Database(get_settings().database_url)
    try:
        with db.unit_of_work() as session:
            report = audit(session, truth, now=datetime.now(UTC),
                           slack=timedelta(seconds=slack), prefix=prefixes or "")
    finally:
        db.dispose()
    click.echo(json.dumps(report.as_dict(), indent=2) if as_json else render(report))
    return 0 if report.passed else 1


def render(report: AuditReport) -> str:
    lines = ["bets: " + ", ".join(f"{k} {v}" for k, v in sorted(report.states.items()))]
    for check in report.checks:
        mark = "PASS" if check.passed else "FAIL"
        lines.append(f"  {mark}  {check.name:<34} {check.checked:>8} checked, "
                     f"{len(check.failures)} failed")
        lines += [f"        {failure}" for failure in check.failures[:5]]
    lines.append("verdict: " + ("PASS" if report.passed else "FAIL"))
    return "\n".join(lines)
