"""Reading bets and applying compare-and-set changes with their audit events."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models.errors import BetNotFound
from models.events import ReviewReason
from models.money import wire_amount
from models.outbox import NEW_NOTIFICATIONS, NotificationKind, NotificationState
from models.snapshot import BetSnapshot
from models.tables import AuditEvent, Bet, Notification, Review
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
    if change.notify is not None:
        detail = {"state": change.target_state.value, "payout": _text(change.values.get("payout"))}
        add_notification(session, bet, change.notify, detail, now=now)
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
    """Open a review and tell the game server a person now holds the bet."""
    review = Review(bet_id=bet_id, reason=reason.value, opened_at=now, detail=detail)
    session.add(review)
    bet = session.get(Bet, bet_id)
    assert bet is not None  # noqa: S101 - reviews are opened on bets read in this transaction
    add_notification(session, BetSnapshot.of(bet), NotificationKind.REVIEW_OPENED,
                     {"reason": reason.value, "why": detail.get("why")}, now=now)
    return review


def add_notification(
    session: Session, bet: BetSnapshot, kind: NotificationKind, detail: dict[str, Any], *,
    now: datetime,
) -> Notification:
    """Put a notification in the outbox, in the caller's transaction. Its id is
    remembered on the session so the commit can wake a delivery at once."""
    event_id = str(uuid.uuid4())
    payload = {
        "event_id": event_id, "event": kind.value, "occurred_at": now.isoformat(),
        "provider": bet.provider, "bet_ref": bet.bet_ref, "stake": wire_amount(bet.stake),
        "currency": bet.currency, **detail,
    }
    notification = Notification(
        event_id=event_id, bet_id=bet.id, kind=kind.value, payload=payload,
        state=NotificationState.PENDING.value, attempts=0, next_attempt_at=now, created_at=now,
    )
    session.add(notification)
    session.flush()
    session.info.setdefault(NEW_NOTIFICATIONS, []).append(notification.id)
    return notification


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


def _text(value: object) -> str | None:
    return wire_amount(value) if isinstance(value, Decimal) else None
