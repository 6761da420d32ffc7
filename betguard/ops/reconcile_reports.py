"""A reconciliation's report as CSV (one line per difference) and as a self-contained
HTML page. Provider data is hostile: every value is escaped in HTML, and a CSV cell
that a spreadsheet would read as a formula is quoted with a leading apostrophe."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from jinja2 import Environment, select_autoescape

from betguard.services.reconcile import Report
from betguard.services.reconcile_store import Found

CSV_COLUMNS = ("id", "kind", "bet_ref", "bet_id", "here_state", "here_stake", "here_payout",
               "here_currency", "here_final_at", "there_rows", "there_status", "there_payout",
               "there_currency", "there_settled_at", "resolution", "new", "why")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def key_facts(found: Found) -> dict[str, Any]:
    """Both sides' key facts of one difference, flat (the provider's as listed by its
    rows, joined with ``|`` when there are several)."""
    rows = found.there.get("rows", [])

    def joined(name: str) -> str:
        return "|".join("" if row.get(name) is None else str(row[name]) for row in rows)

    here = found.here
    return {"id": found.id, "kind": found.kind, "bet_ref": found.bet_ref,
            "bet_id": found.bet_id, "here_state": here.get("state"),
            "here_stake": here.get("stake"), "here_payout": here.get("payout"),
            "here_currency": here.get("currency"), "here_final_at": here.get("final_at"),
            "there_rows": joined("row_id"), "there_status": joined("status"),
            "there_payout": joined("payout"), "there_currency": joined("currency"),
            "there_settled_at": joined("settled_at"), "resolution": found.resolution or "",
            "new": "yes" if found.new else "no", "why": found.why}


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def write_csv(report: Report, path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        for found in report.differences:
            facts = key_facts(found)
            writer.writerow([_cell(facts[column]) for column in CSV_COLUMNS])


_HTML = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Reconciliation of {{ r.provider }} (run {{ r.run_id }})</title>
<style>
body { font-family: sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
.differs { background: #fff0f0; }
.clean { color: #1a7f37; } .found { color: #b42318; }
pre { margin: 0; white-space: pre-wrap; font-size: 0.85em; }
</style>
</head>
<body>
<h1>Reconciliation of {{ r.provider }}</h1>
<table>
<tr><th>run</th><td>{{ r.run_id }} ({{ r.mode }})</td></tr>
<tr><th>window</th><td>{{ r.window_from.isoformat() }} to {{ r.window_to.isoformat() }}</td></tr>
<tr><th>horizon</th><td>{{ r.horizon.isoformat() }}</td></tr>
<tr><th>compared up to</th><td>{{ r.compared_to.isoformat() }}{% if r.clipped %}
 (clipped to the horizon: {{ r.left_out_here }} bets and {{ r.left_out_there }} provider
 rows placed after it were left out as too recent){% endif %}</td></tr>
<tr><th>compared</th><td>{{ r.compared_here }} bets, {{ r.compared_there }} provider rows</td></tr>
<tr><th>not yet decidable</th><td>{{ r.not_yet }}</td></tr>
{% for note in r.notes %}<tr><th>note</th><td>{{ note }}</td></tr>{% endfor %}
</table>
<h2>Summary</h2>
{% if r.differences %}
<table>
<tr><th>kind</th><th>differences</th></tr>
{% for kind, count in r.counts().items() %}<tr><td>{{ kind }}</td><td>{{ count }}</td></tr>
{% endfor %}
</table>
{% else %}<p class="clean">No differences.</p>{% endif %}
{% if r.totals %}
<h2>Totals compared</h2>
<table>
<tr><th>period</th><th>unit</th><th>count here / there</th><th>stake here / there</th>
<th>payout here / there</th><th>differs</th></tr>
{% for t in r.totals %}<tr{% if t.differs %} class="differs"{% endif %}>
<td>{{ t.start }}</td><td>{{ t.unit }}</td>
<td>{{ t.here.count }} / {{ t.there.count }}</td>
<td>{{ t.here.stake }} / {{ t.there.stake }}</td>
<td>{{ t.here.payout }} / {{ t.there.payout }}</td>
<td>{{ "yes" if t.differs else "no" }}</td></tr>
{% endfor %}
</table>
{% endif %}
{% if r.differences %}
<h2 class="found">Differences</h2>
<table>
<tr><th>id</th><th>kind</th><th>bet</th><th>why</th><th>betguard</th><th>provider</th>
<th>resolution</th></tr>
{% for f in rows %}<tr>
<td>{{ f.id }}</td><td>{{ f.kind }}</td><td>{{ f.bet_ref }}</td><td>{{ f.why }}</td>
<td>{% if f.here_state %}{{ f.here_state }}, stake {{ f.here_stake }}, payout
{{ f.here_payout or "-" }} {{ f.here_currency }}{% else %}(no bet){% endif %}</td>
<td>{% if f.there_rows %}rows {{ f.there_rows }}: {{ f.there_status }}, payout
{{ f.there_payout or "-" }} {{ f.there_currency }}{% else %}(no row){% endif %}</td>
<td>{{ f.resolution or "open" }}{% if f.new == "no" %} (known before){% endif %}</td>
</tr>
{% endfor %}
</table>
{% endif %}
</body>
</html>
"""

_ENVIRONMENT = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
_TEMPLATE = _ENVIRONMENT.from_string(_HTML)


def render_html(report: Report) -> str:
    return _TEMPLATE.render(r=report, rows=[key_facts(found) for found in report.differences])


def write_html(report: Report, path: Path) -> None:
    path.write_text(render_html(report), encoding="utf-8")
