"""The ops team's endpoints: the review queue, decisions and re-checks. Operators only;
the key's name is recorded as the operator in the bet's history and the review."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from betguard.api import queries
from betguard.api.auth import Operator
from betguard.api.params import REFUSALS, BetRef, Ctx, ProviderName
from betguard.api.schemas import BetEnvelope, BetOut, ErrorOut, ResolveIn, ReviewQueue
from models.events import ReviewReason
from services.reviews import Resolve, order_recheck, resolve_review

NOT_NOW: dict[int | str, dict[str, object]] = {
    404: {"model": ErrorOut, "description": "no such bet"},
    409: {"model": ErrorOut, "description": "the bet's state does not allow it"},
}
router = APIRouter(tags=["ops"])


@router.get("/reviews", response_model=ReviewQueue, summary="The review queue, oldest first",
            responses=REFUSALS)
def list_reviews(
    caller: Operator, ctx: Ctx,
    state: Annotated[Literal["open", "all"], Query()] = "open",
    reason: Annotated[ReviewReason | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> ReviewQueue:
    return ReviewQueue(reviews=queries.review_queue(ctx, open_only=state == "open",
                                                    reason=reason, limit=limit))


@router.post("/bets/{provider}/{bet_ref:path}/resolve", response_model=BetEnvelope,
             summary="Decide a bet's open review", responses={**NOT_NOW, **REFUSALS})
def resolve(provider: ProviderName, bet_ref: BetRef, decision: ResolveIn, caller: Operator,
            ctx: Ctx) -> BetEnvelope:
    """Settle (with a payout), refund, re-check (with a new deadline) or acknowledge."""
    bet = resolve_review(ctx, Resolve(provider, bet_ref, decision.resolution, caller.name,
                                      decision.note, payout=decision.payout,
                                      deadline=decision.deadline))
    return BetEnvelope(bet=BetOut.of(bet))


@router.post("/bets/{provider}/{bet_ref:path}/recheck", status_code=202,
             response_model=BetEnvelope, summary="Check a pending bet now",
             responses={**NOT_NOW, **REFUSALS})
def recheck(provider: ProviderName, bet_ref: BetRef, caller: Operator, ctx: Ctx) -> BetEnvelope:
    """Accepted, not done: a worker checks the bet with its provider shortly."""
    return BetEnvelope(bet=BetOut.of(order_recheck(ctx, provider, bet_ref,
                                                   operator=caller.name)))
