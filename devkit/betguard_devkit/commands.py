"""``betguard demo``, ``betguard drill`` and ``betguard audit``: the devkit's commands.

devkit/pyproject.toml declares them in the ``betguard.commands`` entry-point group, which
the product's ``betguard`` command loads; the product itself never imports the devkit.
Each command imports its runner only when it runs, so every ``betguard`` call stays quick.
"""

from __future__ import annotations

import click


@click.command()
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
    from betguard_devkit.demo.runner import run_demo

    raise SystemExit(run_demo(bets=bet_count, scenario=scenario, as_json=as_json, keep=keep,
                              workdir=workdir))


@click.command()
@click.argument("scenario", type=click.Choice(["worker-kills", "redis-loss", "db-restart",
                                               "provider-chaos", "duplicates", "all",
                                               "failover"]))
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
    provider-chaos: 5xx, timeouts, malformed and mis-signed answers, an outage, and
    the PG-like feed held by a pull that never finishes; afterwards the backlog drains
    within the provider's rate limit.
    duplicates: every task message delivered two to five times.
    all: everything at once.
    failover: on Redis Sentinel and a PostgreSQL standby, with provider chaos and bets
    through the API: SIGKILL the Redis master, then the PostgreSQL primary (the standby
    is promoted), cut a worker off for longer than a lease, move beat.
    """
    from betguard_devkit.drills.runner import run_drill

    raise SystemExit(run_drill(scenario, bets=bet_count, duration=duration, as_json=as_json,
                               workdir=workdir))


@click.command()
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
    from betguard_devkit.audit_report import run_audit

    raise SystemExit(run_audit(simulator_urls, prefixes=prefixes, slack=slack,
                               as_json=as_json))
