"""``betguard user add|disable|reset|list``: people's accounts for the operations
console (``betguard.services.accounts``). Passwords are asked for at a prompt (hidden,
twice) or read from ``--password-stdin``, never taken as an argument: a process list
or shell history would show them."""

from __future__ import annotations

import sys

import click

from betguard.models.domain.access import Role
from betguard.ops import output
from betguard.ops.runtime import OpsCommand, json_option, open_ops
from betguard.ops.views import short_time
from betguard.services import accounts

ROLES = click.Choice([role.value for role in Role])
BY_HELP = "Who makes the change (kept in the access log). Env: BETGUARD_OPERATOR."


@click.group(name="user")
def user() -> None:
    """People's accounts for the console: viewer, operator, approver, admin."""


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return str(click.prompt("password", hide_input=True, confirmation_prompt=True))


@user.command(name="add", cls=OpsCommand)
@click.argument("name")
@click.option("--role", required=True, type=ROLES, help="What the account may do.")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@click.option("--by", required=True, envvar="BETGUARD_OPERATOR", help=BY_HELP)
def add(name: str, role: str, password_stdin: bool, by: str) -> None:
    """Add an account (a password of at least 12 characters)."""
    password = _password(password_stdin)
    with open_ops() as ops:
        accounts.add_account(ops.context, name, role, password, by=by)
    output.say(f"account {name} added ({role})")


@user.command(name="disable", cls=OpsCommand)
@click.argument("name")
@click.option("--by", required=True, envvar="BETGUARD_OPERATOR", help=BY_HELP)
def disable(name: str, by: str) -> None:
    """Disable an account: it can no longer sign in, and its sessions end now."""
    with open_ops() as ops:
        ended = accounts.disable_account(ops.context, name, by=by)
    output.say(f"account {name} disabled; {ended} session(s) ended")


@user.command(name="reset", cls=OpsCommand)
@click.argument("name")
@click.option("--role", type=ROLES, help="A new role as well.")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@click.option("--by", required=True, envvar="BETGUARD_OPERATOR", help=BY_HELP)
def reset(name: str, role: str | None, password_stdin: bool, by: str) -> None:
    """A new password (and role): enables the account, lifts a lock-out, ends its
    sessions."""
    password = _password(password_stdin)
    with open_ops() as ops:
        accounts.reset_account(ops.context, name, password, by=by, role=role)
    output.say(f"account {name} reset" + (f" ({role})" if role else ""))


@user.command(name="list", cls=OpsCommand)
@json_option
def list_users(as_json: bool) -> None:
    """Every account, its role and whether it is disabled or locked."""
    with open_ops() as ops:
        people = accounts.list_accounts(ops.context)
    if as_json:
        output.emit_json([{"name": a.name, "role": a.role,
                           "disabled": a.disabled_at is not None,
                           "locked_until": a.locked_until.isoformat() if a.locked_until
                           else None} for a in people])
        return
    output.table(["name", "role", "since", "status"],
                 [[a.name, a.role, short_time(a.created_at),
                   "disabled" if a.disabled_at else
                   ("locked" if a.locked_until else "active")] for a in people],
                 empty="no accounts: betguard user add NAME --role admin")
