"""What every endpoint takes: the process's context, the bet's path, and the refusals
any authenticated endpoint may answer with (for the OpenAPI document)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path, Request

from betguard.api.schemas import ErrorOut
from betguard.services.context import Context
from betguard.services.intake import PlaceBet

# Path parameters. A reference the intake would refuse names no bet, and refusing it
# here keeps text the database cannot store (a NUL byte) out of its queries.
REF_PATTERN: str = PlaceBet.model_json_schema()["properties"]["bet_ref"]["pattern"]
PROVIDER_PATTERN = r"^[^\x00-\x1f\x7f/]+$"


def context(request: Request) -> Context:
    """The context ``create_app`` was given: built once per process, shared by requests."""
    ctx: Context = request.app.state.context
    return ctx


Ctx = Annotated[Context, Depends(context)]
ProviderName = Annotated[str, Path(min_length=1, max_length=64, pattern=PROVIDER_PATTERN)]
BetRef = Annotated[str, Path(min_length=1, max_length=128, pattern=REF_PATTERN)]

REFUSALS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "missing or unknown API key"},
    403: {"model": ErrorOut, "description": "the key's role may not do this"},
    413: {"model": ErrorOut, "description": "body over the size limit"},
    422: {"model": ErrorOut, "description": "names each bad field"},
}
