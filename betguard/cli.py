"""The ``betguard`` command: the demo, migrations and the ops commands."""

from __future__ import annotations

import click

from betguard.api.cli import api_command
from betguard.ops import register_ops_commands
from betguard.reconcile.cli import differences, reconcile_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """betguard: no bet left unreturned."""


@main.command()
@click.option("--database-url", envvar="DATABASE_URL", help="Defaults to the settings' URL.")
def migrate(database_url: str | None) -> None:
    """Bring the database schema up to date (safe to run again)."""
    from betguard.config.settings import get_settings
    from betguard.models.migrate import upgrade

    url = database_url or get_settings().database_url
    upgrade(url)
    click.echo("database is up to date")


@main.command()
@click.option("--bets", "bet_count", default=300, show_default=True, type=click.IntRange(1, 100000),
              help="How many bets to place.")
@click.option("--scenario", default="mixed", show_default=True,
              type=click.Choice(["mixed", "calm", "outage", "chaos"]),
              help="mixed: most results return, some late, some never, some unknown, an "
                   "outage in the middle; calm: no faults; outage: a long provider outage; "
                   "chaos: errors, timeouts and malformed answers throughout.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--keep", is_flag=True, help="Leave the services running to explore them.")
@click.option("--workdir", type=click.Path(file_okay=False), default="var/demo",
              show_default=True, help="Where the demo keeps its database, logs and report.")
def demo(bet_count: int, scenario: str, as_json: bool, keep: bool, workdir: str) -> None:
    """Run the whole pipeline on this machine and show what became of every bet."""
    from betguard.demo.runner import run_demo

    raise SystemExit(run_demo(bets=bet_count, scenario=scenario, as_json=as_json, keep=keep,
                              workdir=workdir))


@main.command()
@click.argument("scenario", type=click.Choice(["worker-kills", "redis-loss", "db-restart",
                                               "provider-chaos", "duplicates", "all"]))
@click.option("--bets", "bet_count", default=2000, show_default=True,
              type=click.IntRange(1, 1_000_000), help="How many bets to place.")
@click.option("--duration", default=60.0, show_default=True, type=click.FloatRange(5, 3600),
              help="Seconds over which bets are placed and faults injected.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--workdir", type=click.Path(file_okay=False), default="var/drill",
              show_default=True, help="Where the drill keeps its servers' data and logs.")
def drill(scenario: str, bet_count: int, duration: float, as_json: bool, workdir: str) -> None:
    """Inject real faults into a real running betguard, then audit every bet.

    \b
    worker-kills: SIGKILL a random worker every few seconds, restarting it.
    redis-loss: stop Redis and start it again with all data gone, twice.
    db-restart: restart PostgreSQL mid-run.
    provider-chaos: 5xx, timeouts, malformed and mis-signed answers and an outage;
    afterwards the backlog drains within the provider's rate limit.
    duplicates: every task message delivered two to five times.
    all: everything at once.
    """
    from betguard.drills.runner import run_drill

    raise SystemExit(run_drill(scenario, bets=bet_count, duration=duration, as_json=as_json,
                               workdir=workdir))


@main.command()
@click.option("--simulator", "simulator_urls", required=True, multiple=True,
              help="Where the provider's truth and the wallet's ledger are read (the "
                   "simulator's base URL); give it once per simulator (one per provider "
                   "dialect).")
@click.option("--prefix", "prefixes", multiple=True,
              help="Audit only bets whose reference starts so (repeatable: any of them).")
@click.option("--slack", default=60.0, show_default=True, type=click.FloatRange(0),
              help="Seconds past its deadline a bet may still be open (a sweep interval).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def audit(simulator_urls: tuple[str, ...], prefixes: tuple[str, ...], slack: float,
          as_json: bool) -> None:
    """Check every bet against the provider's truth and the wallet's ledger.

    Exits non-zero when any check fails."""
    from betguard.audit_report import run_audit

    raise SystemExit(run_audit(simulator_urls, prefixes=prefixes, slack=slack,
                               as_json=as_json))


@main.command(name="api-key")
@click.option("--name", required=True, help="Who holds the key; recorded as the actor.")
@click.option("--role", required=True, type=click.Choice(["game_server", "operator"]))
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
main.add_command(reconcile_command)
main.add_command(differences)
