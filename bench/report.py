"""The run's table (printed), its JSON and the catch-up plot (an SVG, no plotting
library needed)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

from bench.figure import Figure


def table(figures: Sequence[Figure], title: str) -> str:
    rows = [("figure", "measured", "reference", "ratio", "target", "met", "size")]
    for f in figures:
        rows.append((f.key, _num(f.value, f.unit), _num(f.reference, f.reference_label),
                     "-" if f.ratio is None else f"{f.ratio:.2f}x", f.target,
                     "yes" if f.met else "NO", f.size))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [title, ""]
    for n, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        if n == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def markdown(figures: Sequence[Figure]) -> str:
    lines = ["| figure | measured | reference | ratio | target | met |",
             "|---|---|---|---|---|---|"]
    for f in figures:
        lines.append(f"| {f.title} ({f.size}) | {_num(f.value, f.unit)} | "
                     f"{_num(f.reference, f.reference_label)} | "
                     f"{'-' if f.ratio is None else f'{f.ratio:.2f}x'} | {f.target} | "
                     f"{'yes' if f.met else '**no**'} |")
    return "\n".join(lines)


def _num(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and math.isnan(value):
        return "failed"
    shown = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}"
    return f"{shown} {unit}".strip()


def write_json(path: Path, data: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")


def catchup_svg(path: Path, timeline: Sequence[tuple[float, int, int]], *, limit: float,
                backlog: int, title: str) -> None:
    """Backlog (left axis) and provider requests per second (right axis) against time
    since the outage ended, with the rate limit drawn in."""
    width, height, left, right, top, bottom = 760, 360, 70, 70, 40, 50
    span = max((t for t, _, _ in timeline), default=1.0) or 1.0
    peak = max([limit * 1.25, *(r for _, _, r in timeline)])
    plot_w, plot_h = width - left - right, height - top - bottom

    def x(t: float) -> float:
        return left + plot_w * t / span

    def y_backlog(n: float) -> float:
        return top + plot_h * (1 - n / max(backlog, 1))

    def y_rate(r: float) -> float:
        return top + plot_h * (1 - r / peak)

    pending = " ".join(f"{x(t):.1f},{y_backlog(n):.1f}" for t, n, _ in timeline)
    rates = " ".join(f"{x(t):.1f},{y_rate(r):.1f}" for t, _, r in timeline)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2}" y="22" text-anchor="middle" font-size="14">{title}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        'stroke="black"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="black"/>',
        f'<line x1="{left + plot_w}" y1="{top}" x2="{left + plot_w}" y2="{top + plot_h}" '
        'stroke="black"/>',
        f'<line x1="{left}" y1="{y_rate(limit):.1f}" x2="{left + plot_w}" '
        f'y2="{y_rate(limit):.1f}" stroke="#d62728" stroke-dasharray="6,4"/>',
        f'<text x="{left + plot_w - 4}" y="{y_rate(limit) - 6:.1f}" text-anchor="end" '
        f'fill="#d62728">rate limit {limit:.0f}/s</text>',
        f'<polyline points="{pending}" fill="none" stroke="#1f77b4" stroke-width="2"/>',
        f'<polyline points="{rates}" fill="none" stroke="#ff7f0e" stroke-width="1.5"/>',
        f'<text x="{left + plot_w / 2}" y="{height - 12}" text-anchor="middle">'
        'seconds since the provider came back</text>',
        f'<text x="16" y="{top + plot_h / 2}" transform="rotate(-90 16 {top + plot_h / 2})" '
        'text-anchor="middle" fill="#1f77b4">bets still pending</text>',
        f'<text x="{width - 14}" y="{top + plot_h / 2}" '
        f'transform="rotate(90 {width - 14} {top + plot_h / 2})" text-anchor="middle" '
        'fill="#ff7f0e">provider requests per second</text>',
    ]
    for k in range(5):
        n, r, t = backlog * k / 4, peak * k / 4, span * k / 4
        parts += [
            f'<text x="{left - 6}" y="{y_backlog(n) + 4:.1f}" text-anchor="end">{n:,.0f}</text>',
            f'<text x="{left + plot_w + 6}" y="{y_rate(r) + 4:.1f}">{r:.0f}</text>',
            f'<text x="{x(t):.1f}" y="{top + plot_h + 16}" text-anchor="middle">{t:.0f}</text>',
        ]
    parts.append("</svg>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts) + "\n")
