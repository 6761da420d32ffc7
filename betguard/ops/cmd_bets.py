"""``betguard bets list`` and ``betguard bets show``: find bets and read their story."""

from __future__ import annotations

from datetime import datetime

import click

from betguard.models.domain.states import BetState
from betguard.ops import output, queries
from betguard.ops.parsing import parse_amount, parse_duration, parse_ref
from betguard.ops.queries import BetFilter, BetStoryView
from betguard.ops.runtime import OpsCommand, json_option, open_ops
from betguard.ops.views import BetView, age, event_time, money, short_time
from betguard.services.context import utcnow

BET_COLUMNS = ("ref", "state", "stake", "payout", "placed", "age", "next check", "attempts")


@click.group(name="bets")
def bets() -> None:
    """Find bets by state, provider, age or amount, and read a bet's whole history."""


@bets.command(name="list", cls=OpsCommand)
@click.option("--state", "states", multiple=True, type=click.Choice([s.value for s in BetState]),
              help="Only bets in this state (repeat for several).")
@click.option("--provider", help="Only this provider's bets.")
@click.option("--older-than", metavar="DURATION",
              help="Placed at least this long ago: 30m, 2h, 1d.")
@click.option("--amount-at-least", metavar="AMOUNT", help="Only stakes of at least this amount.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10000))
@json_option
def list_bets(states: tuple[str, ...], provider: str | None, older_than: str | None,
              amount_at_least: str | None, limit: int, as_json: bool) -> None:
    """List bets, newest first."""
    now = utcnow()
    wanted = BetFilter(
        states=states, provider=provider, limit=limit,
        placed_before=now - parse_duration(older_than, "--older-than") if older_than else None,
        min_stake=parse_amount(amount_at_least, "--amount-at-least") if amount_at_least else None,
    )
    with open_ops() as ops, ops.context.db.unit_of_work() as session:
        views = queries.list_bets(session, wanted)
    if as_json:
        output.emit_json([view.as_json(now) for view in views])
        return
    rows = [_bet_row(view, now) for view in views]
    output.table(BET_COLUMNS, rows, empty="no bets match")


def _bet_row(bet: BetView, now: datetime) -> list[str]:
    return [
        bet.ref, bet.state, f"{money(bet.stake)} {bet.currency}", money(bet.payout) or "-",
        short_time(bet.placed_at), age((now - bet.placed_at).total_seconds()),
        short_time(bet.next_check_at), str(bet.attempts),
    ]


@bets.command(name="show", cls=OpsCommand)
@click.argument("ref")
@json_option
def show_bet(ref: str, as_json: bool) -> None:
    """Show one bet (REF is provider/bet_ref or #id), its history and its reviews."""
    wanted = parse_ref(ref)
    now = utcnow()
    with open_ops() as ops, ops.context.db.unit_of_work() as session:
        story = queries.bet_story(session, wanted)
    if as_json:
        output.emit_json({
            "bet": story.bet.as_json(now),
            "events": [event.as_json() for event in story.events],
            "reviews": [review.as_json(now) for review in story.reviews],
        })
        return
    _print_story(story, now)


def _print_story(story: BetStoryView, now: datetime) -> None:
    bet = story.bet
    output.say(f"{bet.ref}  #{bet.id}  {bet.state}", style=output.STYLES.get(bet.state))
    output.say(f"  stake {money(bet.stake)} {bet.currency}   payout {money(bet.payout) or '-'}"
               f"   checks {bet.attempts}")
    output.say(f"  placed {short_time(bet.placed_at)} "
               f"({age((now - bet.placed_at).total_seconds())} ago)"
               f"   deadline {short_time(bet.deadline)}"
               f"   next check {short_time(bet.next_check_at)}")
    output.say(f"  player {bet.player_id}   game {bet.game_id}   round {bet.round_id}")
    output.say("")
    output.table(("time", "actor", "event", "what happened"),
                 [[event_time(e.at), e.actor, e.kind, e.explanation] for e in story.events],
                 title="history", empty="no events")
    output.say("")
    output.table(("review", "reason", "opened", "status", "why", "note"),
                 [[f"#{r.id}", r.reason, short_time(r.opened_at), r.status, r.why, r.note or ""]
                  for r in story.reviews],
                 title="reviews", empty="none")
