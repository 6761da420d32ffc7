"""The one place where refusals become HTTP answers.

Every category of ``betguard.models.domain.errors`` has its status here, and the same bodies are
used by the exception handlers and by the batch intake, so a bet refused alone and
a bet refused inside a batch read the same. Bad input is never a 500; an
unexpected error is a 500 with a generic body, logged with its traceback.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException

from betguard.models.domain.access import NeedsApproval, NotAllowed
from betguard.models.domain.errors import (
    BetguardError,
    BetNotFound,
    ConflictingBet,
    ContradictingCommand,
    IllegalTransition,
    InvalidBet,
    InvalidCommand,
    UnknownProvider,
)

log = logging.getLogger(__name__)

STATUS: dict[type[BetguardError], int] = {
    InvalidBet: 422,  # malformed bet: the body names each bad field
    UnknownProvider: 422,  # the bet's provider field names no configured provider
    InvalidCommand: 422,  # malformed result or ops command
    ContradictingCommand: 409,  # well formed, but not what the bet is: read it again
    ConflictingBet: 409,  # the reference exists with a different payload
    IllegalTransition: 409,  # the bet's state does not allow it: read it again
    BetNotFound: 404,
    NotAllowed: 403,  # the caller's role does not allow it
    NeedsApproval: 409,  # propose it: a second person approves
}
UNCATEGORISED = 400  # a refusal of a category added later: still the caller's, not a bug
FIELD_PREFIX = re.compile(r"^(?P<field>[a-z_][a-z0-9_.]*): (?P<message>.+)$", re.DOTALL)


def status_of(exc: BetguardError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return UNCATEGORISED


def body_of(exc: BetguardError) -> dict[str, Any]:
    """The JSON body of a refusal: the message, and which fields it is about."""
    body: dict[str, Any] = {"error": str(exc)}
    if isinstance(exc, InvalidBet):
        body["problems"] = [problem(f, m) for f, m in exc.problems]
    elif isinstance(exc, UnknownProvider):
        body["problems"] = [problem("provider", str(exc))]
    elif isinstance(exc, ConflictingBet):
        body["fields"] = exc.fields
    elif isinstance(exc, InvalidCommand):
        # The services write "field: message"; a message without one concerns the request.
        found = FIELD_PREFIX.match(str(exc))
        field, message = (found["field"], found["message"]) if found else ("(body)", str(exc))
        body["problems"] = [problem(field, message)]
    return body


def problem(field: str, message: str) -> dict[str, str]:
    return {"field": field, "message": message}


def validation_problems(errors: Any) -> list[dict[str, str]]:
    """FastAPI's validation errors, in the intake's shape: ``body.stake`` reads ``stake``."""
    problems = []
    for error in errors:
        loc = [str(part) for part in error.get("loc", ())]
        if loc[:1] and loc[0] in ("body", "query", "path", "header"):
            loc = loc[1:]
        field = ".".join(loc) if loc and error.get("type") != "json_invalid" else "(body)"
        problems.append(problem(field, str(error.get("msg", "invalid"))))
    return problems


async def _refused(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BetguardError)
    return JSONResponse(body_of(exc), status_code=status_of(exc))


async def _invalid_request(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = validation_problems(exc.errors())
    summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
    return JSONResponse({"error": f"invalid request: {summary}", "problems": problems},
                        status_code=422)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 400 and exc.__cause__ is not None:
        return _unparseable_body(exc.__cause__)
    return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code,
                        headers=exc.headers)


def _unparseable_body(cause: BaseException) -> JSONResponse:
    """FastAPI answers a body json.loads() cannot read for reasons other than a syntax
    error with a bare 400; say what is wrong, in the shape of every other bad body."""
    if isinstance(cause, RecursionError):
        message = "the JSON is nested too deeply"
    elif isinstance(cause, UnicodeDecodeError):
        message = "the body is not UTF-8 text"
    else:
        message = f"the body cannot be read as JSON: {str(cause)[:200]}"
    problems = [{"field": "(body)", "message": message}]
    return JSONResponse({"error": f"invalid request: (body): {message}", "problems": problems},
                        status_code=422)


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("%s %s: database unavailable (%s)", request.method, request.url.path,
                type(exc).__name__)
    return JSONResponse({"error": "database unavailable; try again"}, status_code=503,
                        headers={"Retry-After": "5"})


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    # Starlette re-raises the error after this answer so that the server logs its
    # traceback; this line adds the request it belongs to, without a second traceback.
    log.error("%s %s failed unexpectedly: %s", request.method, request.url.path,
              type(exc).__name__)
    return JSONResponse({"error": "internal error"}, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(BetguardError, _refused)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(OperationalError, _database_unavailable)
    app.add_exception_handler(PoolTimeout, _database_unavailable)
    app.add_exception_handler(Exception, _unexpected)
