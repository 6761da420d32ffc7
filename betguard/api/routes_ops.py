"""The ops team's endpoints: the review queue, decisions and re-checks. Operators only;
the key's name is recorded as the operator in the bet's history and the review."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from betguard.api import queries
from betguard.api.auth import Operator
from betguard.api.params import REFUSALS, BetRef, Ctx, ProviderName
from betguard.api.schemas import (
    BetEnvelope,
    BetOut,
    ErrorOut,
    RecheckOut,
    ResolveIn,
    ReviewQueue,
)
from betguard.models.domain.events import ReviewReason
from betguard.services.reviews import Resolve, describe_recheck, order_recheck, resolve_review

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
    """In review: settle (with a payout), refund, or re-check (with a new deadline).
    Refund rejected by the wallet: retry it, record it as refunded outside betguard
    (with a reference), or settle it. A conflict on a final bet: acknowledge (refused,
    409, while the bet is not final: its review is its next step)."""
    bet = resolve_review(ctx, Resolve(provider, bet_ref, decision.resolution, caller.name,
                                      decision.note, payout=decision.payout,
                                      deadline=decision.deadline,
                                      reference=decision.reference))
    return BetEnvelope(bet=BetOut.of(bet))


@router.post("/bets/{provider}/{bet_ref:path}/recheck", status_code=202,
             response_model=RecheckOut, summary="Check a pending bet now",
             responses={**NOT_NOW, **REFUSALS})
def recheck(provider: ProviderName, bet_ref: BetRef, caller: Operator, ctx: Ctx) -> RecheckOut:
    """Accepted, not done: a worker checks the bet with its provider shortly. If a check
    is already at the provider, nothing is sent: its answer will come."""
    done = order_recheck(ctx, provider, bet_ref, operator=caller.name)
    return RecheckOut(bet=BetOut.of(done.bet), ordered=done.ordered,
                      in_flight_until=done.in_flight_until, message=describe_recheck(done))
