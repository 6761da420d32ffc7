"""Reading bets and applying compare-and-set changes with their audit events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models.errors import BetNotFound
from models.events import ReviewReason
from models.snapshot import BetSnapshot
from models.tables import AuditEvent, Bet, Review
from models.transitions import Change, NewEvent


def get(session: Session, bet_id: int) -> BetSnapshot | None:
    bet = session.get(Bet, bet_id, populate_existing=True)
    return None if bet is None else BetSnapshot.of(bet)


def get_by_ref(session: Session, provider: str, bet_ref: str) -> BetSnapshot:
    bet = session.scalars(
        select(Bet).where(Bet.provider == provider, Bet.bet_ref == bet_ref)
    ).one_or_none()
    if bet is None:
        raise BetNotFound(f"no bet {provider}/{bet_ref}")
    return BetSnapshot.of(bet)


def apply(session: Session, bet: BetSnapshot, change: Change, *, now: datetime) -> bool:
    """Perform ``change`` if the bet is still in the state and version it was read at.

    Returns False, writing nothing, when someone else changed the bet first.
    """
    result = session.execute(
        update(Bet)
        .where(Bet.id == bet.id, Bet.state == change.expect_state, Bet.version == bet.version)
        .values(version=Bet.version + 1, updated_at=now, **change.values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    add_events(session, bet.id, change.events, now=now)
    if change.review is not None:
        open_review_item(session, bet.id, change.review.reason, change.review.detail, now=now)
    return True


def claim_check(session: Session, bet_id: int, attempt: int, *, lease_until: datetime,
                now: datetime) -> bool:
    """Take check number ``attempt`` of a pending bet; only one delivery can win it."""
    result = session.execute(
        update(Bet)
        .where(Bet.id == bet_id, Bet.state == "pending", Bet.check_attempt == attempt)
        .values(
            check_attempt=attempt + 1,
            next_check_at=lease_until,
            version=Bet.version + 1,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def count_duplicate_delivery(session: Session, bet_id: int) -> None:
    session.execute(
        update(Bet)
        .where(Bet.id == bet_id)
        .values(duplicate_deliveries=Bet.duplicate_deliveries + 1)
        .execution_options(synchronize_session=False)
    )


def add_events(
    session: Session, bet_id: int, events: Sequence[NewEvent], *, now: datetime
) -> None:
    session.add_all(
        AuditEvent(bet_id=bet_id, at=now, kind=e.kind.value, actor=e.actor, detail=e.detail)
        for e in events
    )


def open_review_item(
    session: Session, bet_id: int, reason: ReviewReason, detail: dict[str, Any], *,
    now: datetime,
) -> Review:
    review = Review(bet_id=bet_id, reason=reason.value, opened_at=now, detail=detail)
    session.add(review)
    return review


def open_reviews(session: Session, bet_id: int) -> list[Review]:
    return list(
        session.scalars(
            select(Review)
            .where(Review.bet_id == bet_id, Review.resolved_at.is_(None))
            .order_by(Review.id)
        )
    )


def history(session: Session, bet_id: int) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent).where(AuditEvent.bet_id == bet_id).order_by(AuditEvent.id)
        )
    )
