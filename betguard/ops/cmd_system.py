"""``betguard sweep``, ``stats``, ``doctor`` and ``worker-health``: the pipeline as a whole."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import click
from celery.exceptions import TimeoutError as ResultTimeout
from celery.utils import worker_direct

from betguard.config.celery import HEALTH_TASK
from betguard.config.settings import get_settings
from betguard.messaging.app import app
from betguard.models.domain.states import BetState
from betguard.models.store.db import Database
from betguard.models.store.topology import server_of
from betguard.ops import output
from betguard.ops.runtime import OpsCommand, json_option, open_ops
from betguard.ops.stats import Stats, collect_stats, print_feeds_and_reconciliation
from betguard.ops.views import age, short_time
from betguard.providers.guard_redis import redis_facts
from betguard.services.context import utcnow
from betguard.services.sweeps import run_sweeps

#: A replica further behind than this (bytes of the replication stream) is reported.
REDIS_LAG_WARNING = 1_000_000


@click.command(name="sweep", cls=OpsCommand)
@json_option
def sweep(as_json: bool) -> None:
    """Run the sweeps once now: dispatch due or lost checks and refunds."""
    with open_ops() as ops:
        report = run_sweeps(ops.context)
        sent = list(ops.wakeups.sent)
    counts = {name: count for name, count in dataclasses.asdict(report).items()
              if name.endswith("_dispatched")}
    if as_json:
        output.emit_json({**counts, "backlog": report.backlog,
                          "dispatched": [wakeup.as_json() for wakeup in sent]})
        return
    output.say("dispatched " + ", ".join(
        f"{count} {name.removesuffix('_dispatched')}" for name, count in counts.items())
        + f" ({report.backlog} wake-ups were already waiting for a worker)")
    for wakeup in sent:
        attempt = f" (check {wakeup.attempt})" if wakeup.attempt is not None else ""
        output.say(f"  {wakeup.kind:12}  {wakeup.ref}{attempt}")


@click.command(name="stats", cls=OpsCommand)
@json_option
def stats(as_json: bool) -> None:
    """Bets per state and provider, oldest pending bets, provider error rates over the
    last hour, open reviews by reason, and stuck refunds."""
    with open_ops() as ops, ops.context.db.unit_of_work() as session:
        report = collect_stats(session, utcnow())
    if as_json:
        output.emit_json(report.as_json())
        return
    _print_stats(report)


def _print_stats(report: Stats) -> None:
    states = [state.value for state in BetState]
    output.table(["provider", *states, "total"],
                 [[provider, *(str(counts.get(s, 0)) for s in states), str(sum(counts.values()))]
                  for provider, counts in report.bets.items()],
                 title="bets", empty="none")
    output.table(["provider", "ref", "placed", "age"],
                 [[o.provider, o.ref, short_time(o.placed_at),
                   age((report.at - o.placed_at).total_seconds())] for o in report.oldest_pending],
                 title="oldest pending bet", empty="no pending bets")
    output.table(["provider", "answers", "errors", "error rate"],
                 [[r.provider, str(r.answered), str(r.errors), f"{r.rate:.1%}"]
                  for r in report.error_rates],
                 title="provider errors, last hour", empty="no provider calls")
    output.table(["reason", "open"],
                 [[reason, str(count)] for reason, count in report.open_reviews.items()],
                 title="open reviews", empty="none")
    output.table(["ref", "next check", "failures"],
                 [[s.ref, short_time(s.next_check_at), str(s.failures)]
                  for s in report.stuck_refunds],
                 title="stuck refunds", empty="none")
    output.table(["state", "notifications"],
                 [[state, str(count)] for state, count in sorted(report.notifications.items())],
                 title="notifications to the game server", empty="none")
    print_feeds_and_reconciliation(report)
    if report.dead_letters:
        output.say(f"{report.dead_letters} dead letters: see `betguard notifications list "
                   "--dead`, re-send with `betguard notifications resend --all-dead`",
                   style="bold red")


@click.command(name="doctor", cls=OpsCommand)
@json_option
def doctor(as_json: bool) -> None:
    """Which PostgreSQL server and Redis master this configuration reaches, whether each
    takes writes, and whether their standbys and replicas keep up. Exit code 1 when
    something needs a person (docs/high-availability.md, "Runbooks")."""
    settings = get_settings()
    report: dict[str, Any] = {"database": _database_facts(settings.database_url),
                              "redis": _redis_facts(settings)}
    problems = [*report["database"]["problems"], *report["redis"]["problems"]]
    if as_json:
        output.emit_json({**report, "problems": problems})
    else:
        for part in ("database", "redis"):
            facts = report[part]
            output.say(f"{part}: {facts['summary']}")
            for line in facts["details"]:
                output.say(f"  {line}")
        for problem in problems:
            output.say(f"problem: {problem}")
        if not problems:
            output.say("no problems found")
    if problems:
        raise click.exceptions.Exit(1)


def _database_facts(url: str) -> dict[str, Any]:
    db = Database(url, pool_size=1)
    try:
        server = server_of(db.engine)
    except Exception as exc:  # any failure to reach it is what the report is for
        return {"summary": "unreachable", "details": [], "problems": [
            f"the database cannot be reached: {' '.join(str(exc).split())[:300]}"]}
    finally:
        db.dispose()
    if server is None:
        return {"summary": "SQLite (one file: no standby)", "details": [], "problems": []}
    problems = []
    if server.in_recovery:
        problems.append(f"DATABASE_URL reaches a standby ({server.address}): writes fail")
    synced = [s for s in server.standbys if s.sync_state in ("sync", "quorum")]
    if server.synchronous_standby_names and not synced:
        problems.append(f"commits wait for a synchronous standby "
                        f"({server.synchronous_standby_names}) and none streams: writes hang")
    elif server.standbys and not synced:
        problems.append("no standby is synchronous: a commit acknowledged now is on one "
                        "server only")
    details = [f"standby {s.name}: {s.state}, {s.sync_state}, "
               f"{'?' if s.lag_bytes is None else s.lag_bytes} bytes behind"
               for s in server.standbys] or ["no standby streams from this server"]
    return {"summary": f"{server.role} at {server.address} "
                       f"(synchronous_commit={server.synchronous_commit})",
            "details": details, "problems": problems, "address": server.address,
            "role": server.role,
            "standbys": [dataclasses.asdict(s) for s in server.standbys]}


def _redis_facts(settings: Any) -> dict[str, Any]:
    try:
        facts = redis_facts(settings)
    except Exception as exc:  # any failure to reach it is what the report is for
        return {"summary": "unreachable", "details": [], "problems": [
            f"Redis cannot be reached: {' '.join(str(exc).split())[:300]}"]}
    problems = []
    if facts.role != "master":
        problems.append(f"Redis at {facts.address} is a {facts.role}: writes fail")
    for replica in facts.replicas:
        if replica.state != "online" or replica.lag_bytes > REDIS_LAG_WARNING:
            problems.append(f"Redis replica {replica.address} is {replica.state}, "
                            f"{replica.lag_bytes} bytes behind")
    details = [f"replica {r.address}: {r.state}, {r.lag_bytes} bytes behind"
               for r in facts.replicas] or ["no replica"]
    return {"summary": f"{facts.role} at {facts.address} (through {facts.via})",
            "details": details, "problems": problems, "address": facts.address,
            "role": facts.role, "replicas": [dataclasses.asdict(r) for r in facts.replicas]}


@click.command(name="worker-health", cls=OpsCommand)
@click.argument("worker")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
              help="Seconds to wait for the worker's answer.")
def worker_health(worker: str, timeout: float) -> None:
    """Prove that WORKER (its node name, e.g. provider@host) takes tasks: a task sent to
    the worker's own queue must come back from it within the timeout. Exit code 1 when
    it does not -- alive is not enough: a worker can answer pings and take no tasks."""
    if "@" not in worker:
        raise click.BadParameter("name the worker as Celery does: NAME@HOST", param_hint="WORKER")
    started = time.monotonic()
    result = app.send_task(HEALTH_TASK, queue=worker_direct(worker), expires=timeout,
                           ignore_result=False)
    try:
        answer = result.get(timeout=timeout)
    except ResultTimeout:
        output.say(f"worker {worker} took no task from its queue within {timeout:g} s")
        raise click.exceptions.Exit(1) from None
    finally:
        result.forget()
    output.say(f"worker {answer['worker']} took a task from its queue in "
               f"{time.monotonic() - started:.2f} s")
