"""Ops decisions: resolve a review (settle, refund, re-check, acknowledge) and order a re-check."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from models import repository, transitions
from models.errors import IllegalTransition, InvalidCommand
from models.events import EventKind, Resolution
from models.snapshot import BetSnapshot
from models.states import FINAL_STATES, BetState
from models.tables import Review
from models.transitions import Change, NewEvent
from services.context import Context
from services.results import parse_payout

MAX_RECHECK = timedelta(days=365)


@dataclass(frozen=True)
class Resolve:
    """An operator's decision on a bet's open review."""

    provider: str
    bet_ref: str
    resolution: Resolution
    operator: str
    note: str
    payout: Decimal | str | None = None
    deadline: datetime | None = None


def resolve_review(ctx: Context, command: Resolve) -> BetSnapshot:
    _require_text(command.operator, "operator")
    _require_text(command.note, "note")
    now = ctx.clock()
    with ctx.db.unit_of_work() as session:
        bet = repository.get_by_ref(session, command.provider, command.bet_ref)
        reviews = repository.open_reviews(session, bet.id)
        if not reviews:
            raise IllegalTransition(f"bet {bet.label} has no open review")
        change = _change_for(ctx, bet, command, now)
        if change is not None and not repository.apply(session, bet, change, now=now):
            raise IllegalTransition(f"bet {bet.label} changed meanwhile; look at it again")
        _close(session, bet, reviews, command, now)
        session.commit()
        resolved = repository.get(session, bet.id)
    assert resolved is not None  # noqa: S101 - the bet was just read in this transaction
    _wake(ctx, resolved)
    return resolved


def order_recheck(ctx: Context, provider: str, bet_ref: str, *, operator: str) -> BetSnapshot:
    """Check a pending bet now instead of at its next scheduled time."""
    _require_text(operator, "operator")
    now = ctx.clock()
    with ctx.db.unit_of_work() as session:
        bet = repository.get_by_ref(session, provider, bet_ref)
        if bet.state is not BetState.PENDING:
            raise IllegalTransition(f"bet {bet.label} is {bet.state.value}, not pending")
        event = NewEvent(EventKind.RECHECK_ORDERED, f"operator:{operator}",
                         {"attempt": bet.check_attempt})
        change = Change(BetState.PENDING, {"next_check_at": now}, [event])
        if not repository.apply(session, bet, change, now=now):
            raise IllegalTransition(f"bet {bet.label} changed meanwhile; look at it again")
        session.commit()
    ctx.scheduler.check(bet.id, bet.check_attempt, now, label=bet.label)
    return bet


def _change_for(ctx: Context, bet: BetSnapshot, command: Resolve, now: datetime) -> Change | None:
    operator = f"operator:{command.operator}"
    if command.resolution is Resolution.ACKNOWLEDGED:
        if bet.state not in FINAL_STATES and bet.state is not BetState.REFUND_PENDING:
            raise IllegalTransition(
                f"bet {bet.label} is {bet.state.value}: settle, refund or re-check it"
            )
        return None
    if bet.state is not BetState.IN_REVIEW:
        raise IllegalTransition(
            f"bet {bet.label} is {bet.state.value}; only acknowledging its review is possible"
        )
    if command.resolution is Resolution.SETTLED:
        if command.payout is None:
            raise InvalidCommand("payout: settling needs a payout")
        return transitions.settle(bet, payout=parse_payout(command.payout), actor=operator,
                                  why=command.note, now=now)
    if command.resolution is Resolution.REFUNDED:
        return transitions.decide_refund(bet, actor=operator, why=command.note, now=now)
    deadline = command.deadline or now + timedelta(seconds=ctx.policy(bet.provider).deadline)
    if not now < deadline <= now + MAX_RECHECK:
        raise InvalidCommand("deadline: must be in the future, and within a year")
    return transitions.order_recheck(bet, deadline=deadline, operator=operator,
                                     note=command.note, now=now)


def _close(session: Session, bet: BetSnapshot, reviews: list[Review], command: Resolve,
           now: datetime) -> None:
    for review in reviews:
        review.resolved_at = now
        review.resolution = command.resolution.value
        review.operator = command.operator
        review.note = command.note
    detail = {"resolution": command.resolution.value, "note": command.note,
              "reviews": [r.id for r in reviews]}
    event = NewEvent(EventKind.REVIEW_RESOLVED, f"operator:{command.operator}", detail)
    repository.add_events(session, bet.id, [event], now=now)


def _wake(ctx: Context, bet: BetSnapshot) -> None:
    if bet.state is BetState.PENDING and bet.next_check_at is not None:
        ctx.scheduler.check(bet.id, bet.check_attempt, bet.next_check_at, label=bet.label)
    elif bet.state is BetState.REFUND_PENDING and bet.next_check_at is not None:
        ctx.scheduler.refund(bet.id, bet.next_check_at, label=bet.label)


def _require_text(value: str, name: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InvalidCommand(f"{name}: must not be empty")
