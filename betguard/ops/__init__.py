"""Ops commands of the ``betguard`` CLI: read bets and the review queue from the
database (the truth), decide reviews, order re-checks, run a sweep, see the numbers.

Every command prints a table for people (rich at a terminal, plain text otherwise)
or JSON with ``--json``; refusals are one ``error:`` line and exit code 1.
"""

from __future__ import annotations

import click

from betguard.ops.cmd_bets import bets
from betguard.ops.cmd_notifications import notifications
from betguard.ops.cmd_review import recheck, review
from betguard.ops.cmd_system import stats, sweep


def register_ops_commands(group: click.Group) -> None:
    """Add the ops commands to ``group``."""
    for command in (bets, review, recheck, sweep, stats, notifications):
        group.add_command(command)
