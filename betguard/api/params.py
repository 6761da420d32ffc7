"""What every endpoint takes: the process's context, the bet's path, and the refusals
any authenticated endpoint may answer with (for the OpenAPI document).

A bet reference may hold slashes, so its path parameter takes the rest of the path.
The reading route, ``GET /bets/{provider}/{bet_ref}``, uses the ``bet_ref`` convertor,
which never ends in an action (``/result``, ``/resolve``, ``/recheck``): the intake
refuses such references, so ``/bets/p/x/recheck`` is only ever the re-check of ``x``,
and any other method on it answers 405 with ``Allow: POST``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path, Request
from pydantic import AfterValidator
from starlette.convertors import Convertor, register_url_convertor

from betguard.api.schemas import ErrorOut
from betguard.models.domain import refs
from betguard.services.context import Context
from betguard.services.intake_groups import IntakeGroups

PROVIDER_PATTERN = r"^[^\x00-\x1f\x7f/]+$"


def context(request: Request) -> Context:
    """The context ``create_app`` was given: built once per process, shared by requests."""
    ctx: Context = request.app.state.context
    return ctx


async def _context(request: Request) -> Context:
    # A coroutine: FastAPI runs a plain function dependency in its thread pool, a hop
    # from the event loop and back for every request.
    return context(request)


Ctx = Annotated[Context, Depends(_context)]


async def intake_groups(request: Request) -> IntakeGroups:
    """The process's group commit of single bets (``create_app`` made it)."""
    groups: IntakeGroups = request.app.state.intake_groups
    return groups


Groups = Annotated[IntakeGroups, Depends(intake_groups)]
# A row's id in a path (a proposal, a bet in the console): the database's BIGINT range, so
# a number past it is refused naming the parameter rather than failing in the query.
RowId = Annotated[int, Path(ge=1, le=2**63 - 1)]
ProviderName = Annotated[str, Path(min_length=1, max_length=64, pattern=PROVIDER_PATTERN)]
# A reference the intake would refuse names no bet, and refusing it here (naming
# bet_ref) keeps text the database cannot store (a NUL byte) out of its queries.
BetRef = Annotated[
    str,
    Path(min_length=1, max_length=refs.MAX_LENGTH, pattern=refs.CHARACTERS_PATTERN,
         json_schema_extra={"pattern": refs.PATTERN}),
    AfterValidator(refs.check_bet_ref),
]


class BetRefPath(Convertor[str]):
    """The rest of the path, unless it ends in one of a bet's actions."""

    regex = ".*" + "".join(f"(?<!/{action})" for action in refs.ACTIONS)

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("bet_ref", BetRefPath())

REFUSALS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "missing or unknown API key"},
    403: {"model": ErrorOut, "description": "the key's role may not do this"},
    413: {"model": ErrorOut, "description": "body over the size limit"},
    422: {"model": ErrorOut, "description": "names each bad field"},
}
