"""The ``betguard`` command: migrations, the API, reconciliation and the ops commands.

Other installed distributions add commands through the ``betguard.commands`` entry-point
group: the devkit (devkit/pyproject.toml) adds ``demo``, ``drill`` and ``audit``, so a
production install has none of them and this module never imports the devkit."""

from __future__ import annotations

from importlib.metadata import entry_points

import click

from betguard.api.cli import api_command
from betguard.ops.commands import register_ops_commands


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """betguard: no bet left unreturned."""


@main.command()
@click.option("--database-url", envvar="DATABASE_URL", help="Defaults to the settings' URL.")
def migrate(database_url: str | None) -> None:
    """Bring the database schema up to date (safe to run again)."""
    from betguard.config.settings import get_settings
    from betguard.models.store.migrate import upgrade

    url = database_url or get_settings().database_url
    upgrade(url)
    click.echo("database is up to date")


@main.command(name="api-key")
@click.option("--name", required=True, help="Who holds the key; recorded as the actor.")
@click.option("--role", required=True,
              type=click.Choice(["game_server", "operator", "approver"]))
def api_key(name: str, role: str) -> None:
    """Make a new API key: prints the key (give it to its holder) and the entry to add
    to BETGUARD_API_KEYS (which keeps only its SHA-256)."""
    import hashlib
    import json
    import secrets

    key = secrets.token_urlsafe(32)
    entry = {"name": name, "role": role, "sha256": hashlib.sha256(key.encode()).hexdigest()}
    click.echo(f"key: {key}")
    click.echo(f"BETGUARD_API_KEYS entry: {json.dumps(entry)}")


register_ops_commands(main)
main.add_command(api_command)


def add_installed_commands(group: click.Group) -> None:
    """Add the commands other installed distributions declare for ``betguard``."""
    for entry in entry_points(group="betguard.commands"):
        group.add_command(entry.load(), entry.name)


add_installed_commands(main)
