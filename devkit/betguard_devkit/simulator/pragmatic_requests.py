"""How the simulator's Pragmatic calls are read and answered: url-encoded parameters, the
hash and the DataFeeds login, the JSON envelope under HTTP 200, the CSV feed body, and
the simulator's faults on top (docs: ``betguard_devkit.simulator.pragmatic``)."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from flask import Response, jsonify, request

from betguard_devkit.simulator.inputs import Fault
from betguard_devkit.simulator.pragmatic_rounds import (
    AUTH_FAILED,
    BAD_PARAMETERS,
    COLUMNS,
    DATA_TYPES,
    ERRORS,
    INTERNAL_ERROR,
    INVALID_HASH,
    Record,
    split_ref,
)
from betguard_devkit.simulator.state import SimState

_GAME = re.compile(r"[A-Za-z0-9_]{1,64}")
_ROUND = re.compile(r"[1-9][0-9]{0,18}")
PLAYER_PATTERN = re.compile(r"[A-Za-z0-9._:@-]{1,128}")
_DIGITS = re.compile(r"[0-9]{1,15}")


def request_hash(params: dict[str, str], secret: str) -> str:
    """The hash as this provider computes it (see the module's docstring)."""
    joined = "&".join(f"{key}={params[key]}" for key in sorted(params)
                      if key != "hash" and params[key])
    return hashlib.md5((joined + secret).encode("utf-8"), usedforsecurity=False).hexdigest()


class CallError(Exception):
    """A call refused: ``code`` is one of :data:`ERRORS`."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def parse_params(raw: bytes) -> dict[str, str]:
    """The url-encoded parameters, each once; raises :class:`CallError` (7)."""
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(raw))
    except (UnicodeDecodeError, ValueError):
        raise CallError(BAD_PARAMETERS, "body: not url-encoded parameters") from None
    params: dict[str, str] = {}
    for key, value in pairs:
        if key in params:
            raise CallError(BAD_PARAMETERS, f"{key}: given twice")
        params[key] = value
    return params


def authenticate(params: dict[str, str], secret: str, login: str) -> None:
    """An http API call: raise :class:`CallError` unless ``secureLogin`` is known and the
    hash proves the call."""
    if not params.get("secureLogin"):
        raise CallError(BAD_PARAMETERS, "secureLogin: required")
    if params["secureLogin"] != login:
        raise CallError(AUTH_FAILED, "secureLogin: not a known login")
    given = params.get("hash", "")
    if not given:
        raise CallError(BAD_PARAMETERS, "hash: required")
    if not hmac.compare_digest(request_hash(params, secret), given.lower()):
        raise CallError(INVALID_HASH, "hash: does not match the parameters")


def authenticate_feed(params: dict[str, str], secret: str, login: str) -> None:
    """A DataFeeds call: raise :class:`CallError` unless ``login`` and ``password`` are
    the operator's (no hash)."""
    required(params, "login", "password")
    if params["login"] != login or not hmac.compare_digest(params["password"], secret):
        raise CallError(AUTH_FAILED, "login or password: not the operator's")


def required(params: dict[str, str], *keys: str) -> None:
    missing = [key for key in keys if not params.get(key)]
    if missing:
        raise CallError(BAD_PARAMETERS, f"{', '.join(missing)}: required")


def player_of(params: dict[str, str], key: str) -> str:
    required(params, key)
    if not PLAYER_PATTERN.fullmatch(params[key]):
        raise CallError(BAD_PARAMETERS, f"{key}: letters, digits and ._:@- only, at most 128")
    return params[key]


def round_of(params: dict[str, str]) -> str:
    required(params, "gameId", "roundId")
    if not _GAME.fullmatch(params["gameId"]):
        raise CallError(BAD_PARAMETERS, "gameId: letters, digits and _ only, at most 64")
    ref = f"{params['gameId']}:{params['roundId']}"
    if not _ROUND.fullmatch(params["roundId"]) or split_ref(ref) is None:
        raise CallError(BAD_PARAMETERS, "roundId: a positive integer below 2^63, no leading 0")
    return ref


def feed_query(params: dict[str, str]) -> tuple[int, str]:
    """The ``timepoint`` and ``dataType`` of a DataFeeds call."""
    required(params, "timepoint", "dataType")
    if not _DIGITS.fullmatch(params["timepoint"]):
        raise CallError(BAD_PARAMETERS, "timepoint: milliseconds since the epoch")
    if params["dataType"] not in DATA_TYPES:
        raise CallError(BAD_PARAMETERS, f"dataType: one of {', '.join(DATA_TYPES)}")
    return int(params["timepoint"]), params["dataType"]


def answer(code: int, message: str = "", *, as_text: bool = False, **extra: Any) -> Response:
    """This provider's JSON envelope, always under HTTP 200 (the code a string for the
    http API, ``as_text``)."""
    said = ERRORS[code] if not message else f"{ERRORS[code]}: {message}"
    return jsonify({"error": str(code) if as_text else code, "description": said, **extra})


def csv_body(timepoint: int, rows: list[Record]) -> Response:
    out = io.StringIO()
    out.write(f"timepoint={timepoint}\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(record.line() for record in rows)
    return Response(out.getvalue(), status=200, mimetype="text/csv")


Outcome = Callable[[], Response]


def outage() -> Response:
    """The provider is down: no answer of its own."""
    return Response("provider outage", status=503, mimetype="text/plain")


def served(state: SimState, refs: list[str], run: Outcome, *, csv_feed: bool = False,
            as_text: bool = False) -> Response:
    """The answer with the simulator's faults: a 503 (nothing happened), a pause, an
    internal error (``error_with_200``), or a body that is no answer at all."""
    fault = state.next_provider_fault(refs)
    if fault is Fault.ERROR_503:
        return Response("service unavailable", status=503, mimetype="text/plain")
    if fault is Fault.ERROR_WITH_200:
        return answer(INTERNAL_ERROR, "simulated", as_text=as_text)
    knobs = state.knobs
    pause = knobs.latency_ms / 1000.0 + (knobs.timeout_seconds if fault is Fault.TIMEOUT else 0)
    result = run()
    if pause > 0:
        time.sleep(pause)
    if fault is not None and fault is not Fault.TIMEOUT:
        garbage = "timepoint=soon\nnot,a,feed\n" if csv_feed else '{"error": "none"}'
        return Response(garbage, status=200, mimetype="text/csv" if csv_feed else
                        "application/json")
    return result


def form(secret: str, login: str, *, query: bool = False) -> dict[str, str]:
    """A hash-signed http API call's parameters; raises :class:`CallError`."""
    if query:
        params = parse_params(request.query_string)
    else:
        content_type = (request.content_type or "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            raise CallError(BAD_PARAMETERS,
                            "Content-Type: must be application/x-www-form-urlencoded")
        params = parse_params(request.get_data())
    authenticate(params, secret, login)
    return params
