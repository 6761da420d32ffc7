"""Printing: rich tables and colours for a person at a terminal, plain aligned text
for pipes and logs, JSON for machines. Commands describe rows; this decides how.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING

import click

from betguard.ops.views import to_json

if TYPE_CHECKING:
    from rich.console import Console

# Colours by meaning: waiting, money on its way back, a person needed, done.
STYLES = {
    "pending": "yellow",
    "refund_pending": "magenta",
    "in_review": "bold red",
    "settled": "green",
    "refunded": "cyan",
    "open": "bold red",
}
STYLED_COLUMNS = frozenset({"state", "status"})


def is_terminal() -> bool:
    return sys.stdout.isatty()


@cache
def console() -> Console:
    from rich.console import Console

    return Console(highlight=False)


def emit_json(data: object) -> None:
    click.echo(to_json(data))


def say(text: str, *, style: str | None = None) -> None:
    """A line of prose; coloured only at a terminal."""
    if is_terminal():
        console().print(text, style=style, markup=False)
    else:
        click.echo(text)


def table(columns: Sequence[str], rows: Sequence[Sequence[str]], *, title: str | None = None,
          empty: str = "nothing to show") -> None:
    if not rows:
        say(f"{title}: {empty}" if title else empty)
    elif is_terminal():
        _rich_table(columns, rows, title)
    else:
        _plain_table(columns, rows, title)


def _rich_table(columns: Sequence[str], rows: Sequence[Sequence[str]], title: str | None) -> None:
    from rich.table import Table
    from rich.text import Text

    grid = Table(title=title, title_justify="left", title_style="bold")
    for column in columns:
        grid.add_column(column, overflow="fold")
    styled = [column in STYLED_COLUMNS for column in columns]
    for row in rows:
        grid.add_row(*(Text(cell, style=STYLES.get(cell, "")) if colour else Text(cell)
                       for cell, colour in zip(row, styled, strict=True)))
    console().print(grid)


def _plain_table(columns: Sequence[str], rows: Sequence[Sequence[str]], title: str | None) -> None:
    widths = [max(len(column), *(len(row[i]) for row in rows)) for i, column in enumerate(columns)]
    if title:
        click.echo(title)
    for line in [columns, *rows]:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
                   .rstrip())
