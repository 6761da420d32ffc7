"""Read-only queries behind the ops commands. They write nothing and return views,
so callers can close the unit of work before printing.

They live here rather than in ``betguard.models.store.repository`` because only ops need them;
the repository keeps the queries the pipeline itself depends on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from betguard.models.domain.errors import BetNotFound
from betguard.models.domain.events import EventKind
from betguard.models.store import repository
from betguard.models.store.tables import AuditEvent, Bet, Review
from betguard.ops.explain import explain, review_why
from betguard.ops.parsing import BetSelector
from betguard.ops.views import BetView, EventView, ReviewView


@dataclass(frozen=True)
class BetFilter:
    """Which bets ``bets list`` shows; empty fields do not filter."""

    states: Sequence[str] = ()
    provider: str | None = None
    placed_before: datetime | None = None
    min_stake: Decimal | None = None
    limit: int = 50


@dataclass(frozen=True)
class BetStoryView:
    """A bet with its whole history and every review it had, as ``bets show`` prints it."""

    bet: BetView
    events: list[EventView] = field(default_factory=list)
    reviews: list[ReviewView] = field(default_factory=list)


def find_bet(session: Session, ref: BetSelector) -> Bet:
    if ref.bet_id is not None:
        bet = session.get(Bet, ref.bet_id)
    else:
        bet = session.scalars(
            select(Bet).where(Bet.provider == ref.provider, Bet.bet_ref == ref.bet_ref)
        ).one_or_none()
    if bet is None:
        raise BetNotFound(f"no bet {ref.label}")
    return bet


def list_bets(session: Session, wanted: BetFilter) -> list[BetView]:
    query = (select(Bet).where(*_conditions(wanted))
             .order_by(Bet.placed_at.desc(), Bet.id.desc()).limit(wanted.limit))
    bets = list(session.scalars(query))
    attempts = checks_started(session, [bet.id for bet in bets])
    return [BetView.of(bet, attempts.get(bet.id, 0)) for bet in bets]


def _conditions(wanted: BetFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if wanted.states:
        conditions.append(Bet.state.in_(list(wanted.states)))
    if wanted.provider is not None:
        conditions.append(Bet.provider == wanted.provider)
    if wanted.placed_before is not None:
        conditions.append(Bet.placed_at <= wanted.placed_before)
    if wanted.min_stake is not None:
        conditions.append(Bet.stake >= wanted.min_stake)
    return conditions


def checks_started(session: Session, bet_ids: Sequence[int]) -> dict[int, int]:
    """How many checks each bet had: the attempt counter skips numbers on re-checks."""
    if not bet_ids:
        return {}
    rows = session.execute(
        select(AuditEvent.bet_id, func.count(AuditEvent.id))
        .where(AuditEvent.bet_id.in_(list(bet_ids)),
               AuditEvent.kind == EventKind.CHECK_STARTED.value)
        .group_by(AuditEvent.bet_id)
    )
    return {bet_id: count for bet_id, count in rows}


def bet_view(session: Session, ref: BetSelector) -> BetView:
    bet = find_bet(session, ref)
    return BetView.of(bet, checks_started(session, [bet.id]).get(bet.id, 0))


def bet_story(session: Session, ref: BetSelector) -> BetStoryView:
    bet = bet_view(session, ref)
    events = [EventView.of(e, explain(e.kind, e.actor, e.detail))
              for e in repository.history(session, bet.id)]
    reviews = session.scalars(select(Review).where(Review.bet_id == bet.id).order_by(Review.id))
    return BetStoryView(bet, events,
                        [_review_view(r, bet.provider, bet.bet_ref) for r in reviews])


def list_reviews(session: Session, *, include_resolved: bool, reason: str | None
                 ) -> list[ReviewView]:
    """Reviews oldest first: the queue is worked in the order it filled."""
    query = (select(Review, Bet.provider, Bet.bet_ref)
             .join(Bet, Bet.id == Review.bet_id)
             .order_by(Review.opened_at, Review.id))
    if not include_resolved:
        query = query.where(Review.resolved_at.is_(None))
    if reason is not None:
        query = query.where(Review.reason == reason)
    return [_review_view(review, provider, bet_ref)
            for review, provider, bet_ref in session.execute(query)]


def _review_view(review: Review, provider: str, bet_ref: str) -> ReviewView:
    return ReviewView.of(review, provider, bet_ref, review_why(review.reason, review.detail))
