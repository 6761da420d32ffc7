"""Every ops command, added to the ``betguard`` group by :func:`register_ops_commands`."""

from __future__ import annotations

import click

from betguard.ops.cmd_bets import bets
from betguard.ops.cmd_notifications import notifications
from betguard.ops.cmd_reconcile import differences, reconcile_command
from betguard.ops.cmd_review import recheck, review
from betguard.ops.cmd_system import doctor, stats, sweep, worker_health
from betguard.ops.cmd_users import user


def register_ops_commands(group: click.Group) -> None:
    """Add the ops commands to ``group``."""
    for command in (bets, review, recheck, sweep, stats, doctor, worker_health, notifications,
                    reconcile_command, differences, user):
        group.add_command(command)
