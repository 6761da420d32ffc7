"""How the simulator's PG Soft calls are read and answered: the form and its limits, the
trace_id, PG's hash authentication, and the ``{data, error}`` envelope under HTTP 200
(docs: ``betguard_devkit.simulator.pgsoft``)."""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from flask import Response, jsonify

from betguard_devkit.simulator import wire

MIN_COUNT, MAX_COUNT = 1500, 5000

INVALID_REQUEST = "1034"

INVALID_OPERATOR = "1204"

INTERNAL_ERROR = "1200"

ERRORS = {
    INVALID_REQUEST: "invalid request",
    INVALID_OPERATOR: "invalid operator",
    INTERNAL_ERROR: "internal server error",
}

_AUTHORIZATION = re.compile(
    r"PWS-HMAC-SHA256 Credential=([0-9]{8})/([A-Za-z0-9._:-]{1,128})/pws/v1,"
    r"SignedHeaders=host;x-content-sha256;x-date,Signature=([0-9a-f]{64})")

_TRACE_ID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                       r"[0-9a-fA-F]{12}")

_DIGITS = re.compile(r"[0-9]{1,19}")

FORM_KEYS = ("operator_token", "secret_key", "bet_type", "row_version", "count")

WINDOW_KEYS = ("operator_token", "secret_key", "bet_type", "from_time", "to_time", "count")


def hash_signature(salt: str, host: str, content_sha256: str, x_date: str) -> str:
    """The signature of PG's hash authentication, as this provider computes it."""
    return hmac.new(salt.encode(), f"{host}{content_sha256}{x_date}".encode(),
                    hashlib.sha256).hexdigest()


def check_hash(salt: str, headers: dict[str, str], *, body: bytes, operator_token: str,
               now: float) -> str | None:
    """What is wrong with a request's hash authentication, or None when it proves it."""
    lowered = {key.lower(): value for key, value in headers.items()}
    x_date = lowered.get("x-date", "")
    today = time.strftime("%Y%m%d", time.gmtime(now))
    if x_date != today:
        return f"x-date: {x_date[:20]!r} is not today's UTC date {today} (YYYYMMDD)"
    content = hashlib.sha256(body).hexdigest()
    if lowered.get("x-content-sha256", "") != content:
        return "x-content-sha256: missing or not the SHA-256 hex of the body"
    found = _AUTHORIZATION.fullmatch(lowered.get("authorization", ""))
    if found is None:
        return ("Authorization: missing or not 'PWS-HMAC-SHA256 Credential=<date>/"
                "<operator_token>/pws/v1,SignedHeaders=host;x-content-sha256;x-date,"
                "Signature=<hex>'")
    if found.group(1) != x_date or found.group(2) != operator_token:
        return "Authorization: the credential is not <x-date>/<operator_token>/pws/v1"
    expected = hash_signature(salt, lowered.get("host", ""), content, x_date)
    if not hmac.compare_digest(expected, found.group(3)):
        return "Authorization: the signature does not match the request"
    return None


class FeedError(Exception):
    """A GetHistory call refused: ``code`` is one of :data:`ERRORS`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Query:
    row_version: int
    count: int


def parse_form(body: bytes, content_type: str,
               keys: tuple[str, ...] = FORM_KEYS) -> dict[str, str]:
    """The form's fields, each once; raises :class:`FeedError` (1034) naming the problem."""
    if content_type.split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        raise FeedError(INVALID_REQUEST, "Content-Type: must be application/x-www-form-urlencoded")
    try:
        pairs = parse_qsl(body.decode("ascii"), keep_blank_values=True, strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        raise FeedError(INVALID_REQUEST, "body: not a url-encoded form") from None
    form: dict[str, str] = {}
    for key, value in pairs:
        if key in form:
            raise FeedError(INVALID_REQUEST, f"{key}: given twice")
        form[key] = value
    missing = [key for key in keys if not form.get(key)]
    if missing:
        raise FeedError(INVALID_REQUEST, f"{', '.join(missing)}: required")
    return form


@dataclass(frozen=True)
class Window:
    from_ms: int
    to_ms: int
    count: int


def parse_window(form: dict[str, str]) -> Window:
    """A time-range query: ``from_time`` to ``to_time`` (ms), at most 40 days apart."""
    if form["bet_type"] != "1":
        raise FeedError(INVALID_REQUEST, "bet_type: must be 1 (real-money bets)")
    times = []
    for key in ("from_time", "to_time"):
        if not _DIGITS.fullmatch(form[key]):
            raise FeedError(INVALID_REQUEST, f"{key}: must be Unix milliseconds")
        times.append(int(form[key]))
    if not 0 < times[1] - times[0] <= 40 * 86_400_000:
        raise FeedError(INVALID_REQUEST, "to_time: must be after from_time, by 40 days at most")
    count = form["count"]
    if not _DIGITS.fullmatch(count) or not MIN_COUNT <= int(count) <= MAX_COUNT:
        raise FeedError(INVALID_REQUEST, f"count: must be {MIN_COUNT} to {MAX_COUNT}")
    return Window(times[0], times[1], int(count))


def parse_query(form: dict[str, str]) -> Query:
    if form["bet_type"] != "1":
        raise FeedError(INVALID_REQUEST, "bet_type: must be 1 (real-money bets)")
    if not _DIGITS.fullmatch(form["row_version"]) or int(form["row_version"]) >= 2**63:
        raise FeedError(INVALID_REQUEST, "row_version: must be a non-negative 64-bit integer")
    count = form["count"]
    if not _DIGITS.fullmatch(count) or not MIN_COUNT <= int(count) <= MAX_COUNT:
        raise FeedError(INVALID_REQUEST, f"count: must be {MIN_COUNT} to {MAX_COUNT}")
    return Query(int(form["row_version"]), int(count))


def authenticate(form: dict[str, str], body: bytes, secret: str, operator_token: str,
                 salt: str | None) -> None:
    """Raise :class:`FeedError` unless the operator, its secret key and (with a salt) the
    hash authentication check out."""
    if form["operator_token"] != operator_token or not hmac.compare_digest(
            form["secret_key"].encode(), secret.encode()):
        raise FeedError(INVALID_OPERATOR, "unknown operator_token or wrong secret_key")
    if salt is None:
        return
    problem = check_hash(salt, wire.headers(), body=body, operator_token=operator_token,
                         now=time.time())
    if problem is not None:
        raise FeedError(INVALID_OPERATOR, problem)


def trace_id_of(query: str) -> str:
    """The call's ``trace_id`` (a UUID, in the query string); raises :class:`FeedError`."""
    given = [value for key, value in parse_qsl(query, keep_blank_values=True)
             if key == "trace_id"]
    if len(given) != 1 or not _TRACE_ID.fullmatch(given[0]):
        raise FeedError(INVALID_REQUEST, "trace_id: required once in the query string, a UUID")
    return given[0]


def answer(data: list[dict[str, Any]] | None, code: str | None = None, message: str = "",
           trace_id: str | None = None) -> Response:
    """GetHistory's envelope, always under HTTP 200."""
    error = None if code is None else {"code": code, "message": f"{ERRORS[code]}: {message}",
                                       "traceId": trace_id}
    return jsonify({"data": data, "error": error})
