"""The demo's report: one HTML file with the summary and a plot of bets per state
over time (inline SVG, so it opens anywhere without a network)."""

from __future__ import annotations

import html
from pathlib import Path

from betguard_devkit.demo.summary import Progress, Summary

COLOURS = {"pending": "#e6a700", "refund_pending": "#8e44ad", "in_review": "#c0392b",
           "settled": "#27ae60", "refunded": "#2980b9"}
WIDTH, HEIGHT, MARGIN = 720, 320, 40


def write_report(path: Path, summary: Summary, samples: list[Progress]) -> None:
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
                   for k, v in summary.as_dict().items() if k != "report")
    path.write_text(
        "<!doctype html><meta charset=utf-8><title>betguard demo</title>"
        "<style>body{font-family:sans-serif;margin:2em}td,th{padding:2px 10px;"
        "text-align:left}</style>"
        f"<h1>betguard demo: {html.escape(summary.scenario)}</h1>"
        f"<h2>Bets per state over time</h2>{plot(samples, summary.bets)}"
        f"<h2>Summary</h2><table>{rows}</table>",
        encoding="utf-8",
    )


def plot(samples: list[Progress], total: int) -> str:
    if not samples:
        return "<p>no samples</p>"
    end = max(samples[-1].seconds, 1.0)
    lines, legend = [], []
    for n, (state, colour) in enumerate(COLOURS.items()):
        points = " ".join(f"{_x(s.seconds, end):.1f},{_y(s.states.get(state, 0), total):.1f}"
                          for s in samples)
        lines.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" '
                     f'points="{points}"/>')
        legend.append(f'<text x="{MARGIN + 10 + n * 130}" y="16" fill="{colour}">{state}</text>')
    axes = (f'<line x1="{MARGIN}" y1="{HEIGHT - MARGIN}" x2="{WIDTH - 10}" '
            f'y2="{HEIGHT - MARGIN}" stroke="#333"/>'
            f'<line x1="{MARGIN}" y1="30" x2="{MARGIN}" y2="{HEIGHT - MARGIN}" stroke="#333"/>'
            f'<text x="{WIDTH // 2}" y="{HEIGHT - 8}">seconds ({end:.0f} s)</text>'
            f'<text x="4" y="40">{total}</text><text x="20" y="{HEIGHT - MARGIN}">0</text>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
            f'font-size="12">{axes}{"".join(lines)}{"".join(legend)}</svg>')


def _x(seconds: float, end: float) -> float:
    return MARGIN + (WIDTH - 10 - MARGIN) * seconds / end


def _y(count: int, total: int) -> float:
    return HEIGHT - MARGIN - (HEIGHT - MARGIN - 30) * count / max(total, 1)
