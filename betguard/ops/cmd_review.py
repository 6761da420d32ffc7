"""``betguard review list|resolve`` and ``betguard recheck``: an operator's decisions.

The decisions themselves are ``betguard.services.reviews``; these commands only parse,
delegate and say what became of the bet.
"""

from __future__ import annotations

import socket

import click

from betguard.models.domain.access import Actor, Role
from betguard.models.domain.events import Resolution, ReviewReason
from betguard.ops import output, queries
from betguard.ops.parsing import BetSelector, parse_deadline, parse_ref
from betguard.ops.runtime import Ops, OpsCommand, json_option, open_ops
from betguard.ops.views import BetView, age, money, short_time
from betguard.services import approvals
from betguard.services.accounts import actor_named, record
from betguard.services.context import Context, utcnow
from betguard.services.reviews import Resolve, describe_recheck, order_recheck

OPERATOR_HELP = "Who decides (recorded in the bet's history). Env: BETGUARD_OPERATOR."


@click.group(name="review")
def review() -> None:
    """Work the review queue: bets a person must decide, and conflicts to acknowledge."""


@review.command(name="list", cls=OpsCommand)
@click.option("--all", "include_resolved", is_flag=True, help="Resolved reviews too.")
@click.option("--reason", type=click.Choice([r.value for r in ReviewReason]),
              help="Only reviews opened for this reason.")
@json_option
def list_reviews(include_resolved: bool, reason: str | None, as_json: bool) -> None:
    """List open reviews, oldest first."""
    now = utcnow()
    with open_ops() as ops, ops.context.db.unit_of_work() as session:
        views = queries.list_reviews(session, include_resolved=include_resolved, reason=reason)
    if as_json:
        output.emit_json([view.as_json(now) for view in views])
        return
    columns = ["ref", "reason", "opened", "age", "why", "status"]
    rows = [[v.ref, v.reason, short_time(v.opened_at), age((now - v.opened_at).total_seconds()),
             v.why, v.status] for v in views]
    if not include_resolved:  # every row is open: the status column would say nothing
        columns, rows = columns[:-1], [row[:-1] for row in rows]
    output.table(columns, rows, empty="no reviews" if include_resolved else "no open reviews")


@review.command(name="resolve", cls=OpsCommand)
@click.argument("ref")
@click.option("--settle", "payout", metavar="PAYOUT", help="Settle the bet with this payout.")
@click.option("--refund", is_flag=True, help="Refund the stake.")
@click.option("--recheck", is_flag=True, help="Ask the provider again until a new deadline.")
@click.option("--deadline", metavar="ISO|DURATION",
              help="With --recheck: the new deadline (default: the provider's policy).")
@click.option("--acknowledge", is_flag=True,
              help="Close the review of a final bet (a conflict) without changing it.")
@click.option("--retry-refund", is_flag=True,
              help="Refund rejected by the wallet: try it again now, under the same key.")
@click.option("--refunded-outside", "reference", metavar="REFERENCE",
              help="Refund rejected by the wallet: the stake was paid back outside betguard "
                   "(REFERENCE: where, e.g. a bank transfer's id).")
@click.option("--note", required=True, help="Why: kept with the decision.")
@click.option("--operator", required=True, envvar="BETGUARD_OPERATOR", help=OPERATOR_HELP)
@json_option
def resolve(ref: str, payout: str | None, refund: bool, recheck: bool, deadline: str | None,
            acknowledge: bool, retry_refund: bool, reference: str | None, note: str,
            operator: str, as_json: bool) -> None:
    """Decide a bet's open review: exactly one of --settle, --refund, --recheck,
    --acknowledge, --retry-refund, --refunded-outside.

    A bet in review is settled, refunded or re-checked. A refund the wallet rejected
    (the bet stays refund_pending) is retried, recorded as paid outside betguard, or
    settled with --settle if the provider has a result after all.

    A settle or refund putting more than the provider's four_eyes_above at stake is
    proposed instead, and applied when an approver approves it (review approve)."""
    resolution = _chosen(payout, refund, recheck, acknowledge, retry_refund, reference)
    if deadline is not None and resolution is not Resolution.RECHECK:
        raise click.UsageError("--deadline goes with --recheck only")
    wanted = parse_ref(ref)
    new_deadline = parse_deadline(deadline, utcnow()) if deadline is not None else None
    with open_ops() as ops:
        provider, bet_ref = _name_of(ops.context, wanted)
        actor = cli_actor(ops.context, operator)
        done = approvals.decide(ops.context, Resolve(provider, bet_ref, resolution, operator,
                                                     note, payout=payout,
                                                     deadline=new_deadline,
                                                     reference=reference), actor)
        proposed = isinstance(done, approvals.Proposed)
        _log(ops.context, actor, "proposed" if proposed else "decided",
             bet=f"{provider}/{bet_ref}", resolution=resolution.value)
        after = _reread(ops, wanted)
    if isinstance(done, approvals.Proposed):
        if as_json:
            output.emit_json({"proposal": done.proposal_id, "resolution": resolution.value,
                              "operator": operator, "amount": str(done.amount),
                              "expires_at": done.expires_at.isoformat()})
            return
        output.say(f"{done.message}: betguard review approve {done.proposal_id} "
                   "--operator APPROVER --note WHY")
        return
    if as_json:
        output.emit_json({"resolution": resolution.value, "operator": operator,
                          "bet": after.as_json(utcnow())})
        return
    output.say(f"{after.ref}: review resolved by {operator} ({resolution.value}); "
               f"the bet is now {_state_line(after)}")


def _chosen(payout: str | None, refund: bool, recheck: bool, acknowledge: bool,
            retry_refund: bool, reference: str | None) -> Resolution:
    chosen = [resolution for resolution, given in [
        (Resolution.SETTLED, payout is not None), (Resolution.REFUNDED, refund),
        (Resolution.RECHECK, recheck), (Resolution.ACKNOWLEDGED, acknowledge),
        (Resolution.RETRY_REFUND, retry_refund),
        (Resolution.REFUNDED_OUTSIDE, reference is not None),
    ] if given]
    if len(chosen) != 1:
        raise click.UsageError(
            "give exactly one of --settle PAYOUT, --refund, --recheck, --acknowledge, "
            "--retry-refund, --refunded-outside REFERENCE"
        )
    return chosen[0]


def _state_line(bet: BetView) -> str:
    if bet.payout is not None:
        return f"{bet.state} (payout {money(bet.payout)} {bet.currency})"
    if bet.next_check_at is not None:
        return f"{bet.state} (next step at {short_time(bet.next_check_at)})"
    return bet.state


@click.command(name="recheck", cls=OpsCommand)
@click.argument("ref")
@click.option("--operator", required=True, envvar="BETGUARD_OPERATOR", help=OPERATOR_HELP)
@json_option
def recheck(ref: str, operator: str, as_json: bool) -> None:
    """Check a pending bet with its provider now instead of at its next scheduled time."""
    wanted = parse_ref(ref)
    with open_ops() as ops:
        provider, bet_ref = _name_of(ops.context, wanted)
        done = order_recheck(ops.context, provider, bet_ref, operator=operator)
        sent = [w for w in ops.wakeups.sent if w.kind == "check"]
    before = done.bet
    if as_json:
        output.emit_json({"ref": before.label, "bet_id": before.id,
                          "attempt": before.check_attempt, "operator": operator,
                          "ordered": done.ordered,
                          "in_flight_until": done.in_flight_until.isoformat()
                          if done.in_flight_until else None,
                          "dispatched_at": sent[0].at if sent else None})
        return
    if not done.ordered:
        output.say(describe_recheck(done))
        return
    output.say(f"{before.label}: check {before.check_attempt} ordered now by {operator}")


def _name_of(context: Context, wanted: BetSelector) -> tuple[str, str]:
    """The services name bets by provider and reference; ``#id`` is looked up first."""
    if wanted.bet_id is None:
        return wanted.provider, wanted.bet_ref
    with context.db.unit_of_work() as session:
        bet = queries.find_bet(session, wanted)
        return bet.provider, bet.bet_ref


def _reread(ops: Ops, wanted: BetSelector) -> BetView:
    with ops.context.db.unit_of_work() as session:
        return queries.bet_view(session, wanted)



def _log(context: Context, actor: Actor, action: str, **detail: object) -> None:
    """The access log holds the CLI's decisions too, from this machine's name."""
    record(context, actor, action, address=f"cli@{socket.gethostname()}", detail=detail)


def cli_actor(context: Context, name: str) -> Actor:
    """Who the CLI acts as: the account of that name, with its role; a name with no
    account acts as an operator (the CLI runs with the database's own credentials), so
    it may decide and propose, never approve."""
    return actor_named(context, name, via="cli") or Actor(name, Role.OPERATOR, "cli")


@review.command(name="proposals", cls=OpsCommand)
@click.option("--all", "include_decided", is_flag=True, help="Decided ones too.")
@json_option
def list_proposals(include_decided: bool, as_json: bool) -> None:
    """Four-eyes proposals waiting for an approver, oldest first."""
    with open_ops() as ops:
        views = approvals.listing(ops.context, state=None if include_decided else "open")
    if as_json:
        output.emit_json([{"id": v.id, "ref": v.label, "resolution": v.resolution,
                           "amount": str(v.amount), "payout": v.payout, "note": v.note,
                           "proposed_by": v.proposed_by, "state": v.state,
                           "decided_by": v.decided_by,
                           "expires_at": v.expires_at.isoformat()} for v in views])
        return
    output.table(["id", "ref", "resolution", "amount", "proposed by", "expires", "state"],
                 [[str(v.id), v.label, v.resolution + (f" {v.payout}" if v.payout else ""),
                   money(v.amount) or "", v.proposed_by, short_time(v.expires_at), v.state]
                  for v in views], empty="no open proposals")


@review.command(name="approve", cls=OpsCommand)
@click.argument("proposal_id", type=int)
@click.option("--note", required=True, help="Why: kept with the approval.")
@click.option("--operator", required=True, envvar="BETGUARD_OPERATOR",
              help="The approver: an account with the approver (or admin) role, not the "
                   "proposer. Env: BETGUARD_OPERATOR.")
def approve(proposal_id: int, note: str, operator: str) -> None:
    """Approve another person's proposal: its decision is applied now."""
    with open_ops() as ops:
        actor = cli_actor(ops.context, operator)
        bet = approvals.approve(ops.context, proposal_id, actor, note)
        _log(ops.context, actor, "approved", proposal=proposal_id, bet=bet.label)
    output.say(f"proposal #{proposal_id} approved by {operator}: {bet.label} is now "
               f"{bet.state.value}")


@review.command(name="reject", cls=OpsCommand)
@click.argument("proposal_id", type=int)
@click.option("--note", required=True, help="Why: kept with the rejection.")
@click.option("--operator", required=True, envvar="BETGUARD_OPERATOR",
              help="An approver, or the proposer withdrawing it. Env: BETGUARD_OPERATOR.")
def reject(proposal_id: int, note: str, operator: str) -> None:
    """Reject a proposal (or withdraw your own): nothing moves."""
    with open_ops() as ops:
        actor = cli_actor(ops.context, operator)
        view = approvals.reject(ops.context, proposal_id, actor, note)
        _log(ops.context, actor, "rejected", proposal=proposal_id, bet=view.label)
    output.say(f"proposal #{proposal_id} rejected by {operator}; nothing changed")
