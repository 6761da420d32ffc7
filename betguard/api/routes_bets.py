"""The game server's endpoints: register bets, report results, read a bet.

Handlers only parse and delegate to the services; refusals are raised and turned
into answers in ``errors``. They are plain functions, run in the thread pool,
because the services block on the database; the intake is a coroutine, whose single
bets wait for their group's commit (``IntakeGroups``) and whose batches run in the pool.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from betguard.api import queries
from betguard.api.auth import AnyCaller
from betguard.api.errors import body_of, status_of
from betguard.api.params import REFUSALS, BetRef, Ctx, Groups, ProviderName
from betguard.api.schemas import (
    BatchIn,
    BatchItem,
    BatchOut,
    BetEnvelope,
    BetOut,
    BetStory,
    CancelOut,
    ErrorOut,
    ResultIn,
    ResultOut,
    intake_body_schema,
)
from betguard.models.domain.errors import BetguardError
from betguard.services.cancels import report_cancel
from betguard.services.context import Context
from betguard.services.intake import ItemResult, PlaceBet, parse_bet, place_bets
from betguard.services.results import report_result

BATCH_STATUS: dict[int, Literal["conflict", "invalid"]] = {409: "conflict", 422: "invalid"}
router = APIRouter(tags=["bets"])


@router.post(
    "/bets", status_code=201, response_model=None,
    summary="Register one bet, or a batch of up to 1000",
    openapi_extra={"requestBody": {"content": {"application/json": {
        "schema": intake_body_schema()}}}},
    responses={
        201: {"model": BetEnvelope, "description": "the bet was registered"},
        200: {"model": BetEnvelope | BatchOut,
              "description": "the bet already existed with this payload, or a batch's results"},
        409: {"model": ErrorOut, "description": "the reference exists with different fields"},
        **REFUSALS,
    },
)
async def register_bets(body: Annotated[dict[str, Any], Body()], caller: AnyCaller,
                        ctx: Ctx, groups: Groups) -> JSONResponse:
    """Idempotent on (provider, bet_ref): sending the same bet again is safe. Single bets
    arriving together share one transaction, each answered on its own after it
    (``IntakeGroups``: the request waits for its answer without holding a thread)."""
    if "bets" in body:
        batch = await run_in_threadpool(_register_batch, ctx, body)
        return JSONResponse(batch.model_dump(mode="json", exclude_unset=True))
    placed = await asyncio.wrap_future(groups.submit(parse_bet(body)))
    envelope = BetEnvelope(bet=BetOut.of(placed.bet))
    return JSONResponse(envelope.model_dump(mode="json"),
                        status_code=201 if placed.created else 200)


def _register_batch(ctx: Context, body: dict[str, Any]) -> BatchOut:
    """Every valid item in one transaction (``place_bets``): each is written whole or not
    at all and answered on its own, whatever its neighbours are."""
    try:
        batch = BatchIn.model_validate(body)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        ) from exc
    parsed: list[PlaceBet | BetguardError] = []
    for item in batch.bets:
        try:
            parsed.append(parse_bet(item))
        except BetguardError as exc:
            parsed.append(exc)
    placed = iter(place_bets(ctx, [p for p in parsed if isinstance(p, PlaceBet)]))
    return BatchOut(results=[
        _batch_item(index, p if isinstance(p, BetguardError) else next(placed))
        for index, p in enumerate(parsed)])


def _batch_item(index: int, outcome: BetguardError | ItemResult) -> BatchItem:
    error = outcome if isinstance(outcome, BetguardError) else outcome.error
    if error is not None:
        status = BATCH_STATUS.get(status_of(error))
        if status is None:
            raise error
        return BatchItem(index=index, status=status, **body_of(error))
    assert isinstance(outcome, ItemResult) and outcome.bet is not None  # noqa: S101
    return BatchItem(index=index, status=outcome.status, bet=BetOut.of(outcome.bet))


@router.post("/bets/{provider}/{bet_ref:path}/result", response_model=ResultOut,
             summary="Report the result the game server received",
             responses={404: {"model": ErrorOut, "description": "no such bet"},
                        409: {"model": ErrorOut,
                              "description": "the currency is not the bet's (naming it)"},
                        **REFUSALS})
def report(provider: ProviderName, bet_ref: BetRef, result: ResultIn, caller: AnyCaller,
           ctx: Ctx) -> ResultOut:
    """Settles a pending bet; never overwrites a decided one (that opens a conflict review)."""
    outcome = report_result(ctx, provider, bet_ref, payout=result.payout,
                            currency=result.currency, actor=f"game-server:{caller.name}")
    return ResultOut(outcome=outcome, bet=queries.bet(ctx, provider, bet_ref))


@router.post("/bets/{provider}/{bet_ref:path}/cancelled", response_model=CancelOut,
             summary="Report that the provider cancelled the bet itself (its rollback)",
             responses={404: {"model": ErrorOut, "description": "no such bet"}, **REFUSALS})
def report_cancelled(provider: ProviderName, bet_ref: BetRef, caller: AnyCaller,
                     ctx: Ctx) -> CancelOut:
    """Refunds a pending bet (once: a stake the provider's rollback paid back already is
    not paid again); closes or joins a bet's review; a settled bet gets a conflict review."""
    outcome = report_cancel(ctx, provider, bet_ref, actor=f"game-server:{caller.name}")
    return CancelOut(outcome=outcome, bet=queries.bet(ctx, provider, bet_ref))


@router.get("/bets/{provider}/{bet_ref:bet_ref}", response_model=BetStory,
            summary="A bet, its history and its reviews",
            responses={404: {"model": ErrorOut, "description": "no such bet"}, **REFUSALS})
def read_bet(provider: ProviderName, bet_ref: BetRef, caller: AnyCaller, ctx: Ctx) -> BetStory:
    return queries.bet_story(ctx, provider, bet_ref)
