"""Read-only queries behind the API's read endpoints. Each converts rows to the API's
models inside its unit of work, so nothing outlives the session it came from."""

from __future__ import annotations

from sqlalchemy import select

from betguard.api.schemas import BetOut, BetStory, EventOut, QueuedReview, ReviewOut
from betguard.models.domain.events import ReviewReason
from betguard.models.domain.snapshot import BetSnapshot
from betguard.models.store import repository
from betguard.models.store.tables import Bet, Review
from betguard.services.context import Context


def bet(ctx: Context, provider: str, bet_ref: str) -> BetOut:
    with ctx.db.unit_of_work() as session:
        return BetOut.of(repository.get_by_ref(session, provider, bet_ref))


def bet_story(ctx: Context, provider: str, bet_ref: str) -> BetStory:
    with ctx.db.unit_of_work() as session:
        found = repository.get_by_ref(session, provider, bet_ref)
        reviews = session.scalars(
            select(Review).where(Review.bet_id == found.id).order_by(Review.id)
        )
        return BetStory(
            bet=BetOut.of(found),
            history=[EventOut.of(e) for e in repository.history(session, found.id)],
            reviews=[ReviewOut.of(r) for r in reviews],
        )


def review_queue(ctx: Context, *, open_only: bool, reason: ReviewReason | None,
                 limit: int) -> list[QueuedReview]:
    """Reviews oldest first: the queue is worked in the order the questions arose."""
    query = select(Review, Bet).join(Bet, Bet.id == Review.bet_id)
    if open_only:
        query = query.where(Review.resolved_at.is_(None))
    if reason is not None:
        query = query.where(Review.reason == reason.value)
    query = query.order_by(Review.opened_at, Review.id).limit(limit)
    with ctx.db.unit_of_work() as session:
        return [
            QueuedReview(**ReviewOut.of(review).model_dump(),
                         bet=BetOut.of(BetSnapshot.of(row)))
            for review, row in session.execute(query)
        ]
