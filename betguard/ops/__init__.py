"""Ops commands of the ``betguard`` CLI."""

from __future__ import annotations

import click


def register_ops_commands(group: click.Group) -> None:
    """Add the ops commands to ``group`` (filled in as they are written)."""
