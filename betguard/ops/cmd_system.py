"""``betguard sweep`` and ``betguard stats``: the pipeline as a whole."""

from __future__ import annotations

import dataclasses

import click

from betguard.models.domain.states import BetState
from betguard.ops import output
from betguard.ops.runtime import OpsCommand, json_option, open_ops
from betguard.ops.stats import Stats, collect_stats, print_feeds_and_reconciliation
from betguard.ops.views import age, short_time
from betguard.services.context import utcnow
from betguard.services.sweeps import run_sweeps


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
