"""The ops team's endpoints: the review queue, decisions and re-checks. Operators only;
the key's name is recorded as the operator in the bet's history and the review."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from betguard.api import queries
from betguard.api.auth import Caller, Operator
from betguard.api.params import REFUSALS, BetRef, Ctx, ProviderName, RowId
from betguard.api.schemas import (
    BetEnvelope,
    BetOut,
    DecisionNoteIn,
    ErrorOut,
    ProposalList,
    ProposalOut,
    ProposedOut,
    RecheckOut,
    ResolveIn,
    ReviewQueue,
)
from betguard.models.domain.events import ReviewReason
from betguard.services import accounts, approvals
from betguard.services.context import Context
from betguard.services.reviews import Resolve, describe_recheck, order_recheck

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
             summary="Decide a bet's open review",
             responses={**NOT_NOW, **REFUSALS,
                        202: {"model": ProposedOut,
                              "description": "proposed: it needs a second person"}})
def resolve(provider: ProviderName, bet_ref: BetRef, decision: ResolveIn, caller: Operator,
            ctx: Ctx, request: Request) -> BetEnvelope | JSONResponse:
    """In review: settle (with a payout), refund, or re-check (with a new deadline).
    Refund rejected by the wallet: retry it, record it as refunded outside betguard
    (with a reference), or settle it. A conflict on a final bet: acknowledge (refused,
    409, while the bet is not final: its review is its next step).

    A settle or refund putting more than the provider's ``four_eyes_above`` at stake is
    not applied: it is proposed (202) and waits for another key or person with the
    approver role (``POST /proposals/{id}/approve``)."""
    done = approvals.decide(ctx, Resolve(provider, bet_ref, decision.resolution, caller.name,
                                         decision.note, payout=decision.payout,
                                         deadline=decision.deadline,
                                         reference=decision.reference), caller.actor)
    proposed = isinstance(done, approvals.Proposed)
    _log(ctx, caller, request, "proposed" if proposed else "decided",
         bet=f"{provider}/{bet_ref}", resolution=decision.resolution.value)
    if isinstance(done, approvals.Proposed):
        body = ProposedOut(proposal=ProposalOut.of(approvals.find(ctx, done.proposal_id)),
                           message=done.message)
        return JSONResponse(body.model_dump(mode="json"), status_code=202)
    return BetEnvelope(bet=BetOut.of(done))


def _log(ctx: Context, caller: Caller, request: Request, action: str, **detail: object) -> None:
    """The access log holds the API's decisions too, with the key's name and address."""
    accounts.record(ctx, caller.actor, action,
                    address=request.client.host if request.client else "unknown",
                    detail=detail)


@router.get("/proposals", response_model=ProposalList, responses=REFUSALS,
            summary="Four-eyes proposals, oldest first")
def list_proposals(caller: Operator, ctx: Ctx,
                   state: Annotated[Literal["open", "all"], Query()] = "open",
                   limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> ProposalList:
    views = approvals.listing(ctx, state="open" if state == "open" else None, limit=limit)
    return ProposalList(proposals=[ProposalOut.of(view) for view in views])


@router.post("/proposals/{proposal_id}/approve", response_model=BetEnvelope,
             summary="Approve another's proposal: the decision is applied now",
             responses={**NOT_NOW, **REFUSALS})
def approve(proposal_id: RowId, body: DecisionNoteIn, caller: Operator, ctx: Ctx,
            request: Request) -> BetEnvelope:
    """Approvers only, never the proposer; refused (409) once decided, void or expired."""
    bet = approvals.approve(ctx, proposal_id, caller.actor, body.note)
    _log(ctx, caller, request, "approved", proposal=proposal_id, bet=bet.label)
    return BetEnvelope(bet=BetOut.of(bet))


@router.post("/proposals/{proposal_id}/reject", response_model=ProposalOut,
             summary="Reject a proposal (or withdraw your own): nothing moves",
             responses={**NOT_NOW, **REFUSALS})
def reject(proposal_id: RowId, body: DecisionNoteIn, caller: Operator, ctx: Ctx,
           request: Request) -> ProposalOut:
    view = approvals.reject(ctx, proposal_id, caller.actor, body.note)
    _log(ctx, caller, request, "rejected", proposal=proposal_id, bet=view.label)
    return ProposalOut.of(view)


@router.post("/bets/{provider}/{bet_ref:path}/recheck", status_code=202,
             response_model=RecheckOut, summary="Check a pending bet now",
             responses={**NOT_NOW, **REFUSALS})
def recheck(provider: ProviderName, bet_ref: BetRef, caller: Operator, ctx: Ctx) -> RecheckOut:
    """Accepted, not done: a worker checks the bet with its provider shortly. If a check
    is already at the provider, nothing is sent: its answer will come."""
    done = order_recheck(ctx, provider, bet_ref, operator=caller.name)
    return RecheckOut(bet=BetOut.of(done.bet), ordered=done.ordered,
                      in_flight_until=done.in_flight_until, message=describe_recheck(done))
