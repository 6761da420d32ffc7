"""Spoiling responses on purpose: their body, status, signature or the way they are sent.

A malformed answer is still correctly signed for the request it answers, with the
status it is sent with (unless the fault is the signature itself), so only the
client's validation can catch it — exactly the case betguard must record as a
provider error and never act upon.

Every stream here ends by itself: after :data:`STREAM_SECONDS` or
:data:`STREAM_BYTES`, or as soon as the client hangs up (the server's write
fails and the generator is closed). The simulator only listens on loopback.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator
from typing import Any

from betguard.providers.signing import (
    REQUEST_ID_HEADER,
    TIMESTAMP_HEADER,
    Exchange,
    new_request_id,
    sign_response,
)
from betguard_devkit.simulator.inputs import Fault

NOT_JSON_BODY = b"<html><body><h1>502 Bad Gateway</h1>upstream hiccup</body></html>"
JSON = "application/json"
OVERSIZE_BYTES = 1024 * 1024 + 1  # one byte past what a client reads
STREAM_SECONDS = 30.0
STREAM_BYTES = 64 * 1024 * 1024
DRIP_SECONDS = 0.3
STALE_SECONDS = 3600
UNREACHABLE = "http://127.0.0.1:9/elsewhere"  # loopback, discard port: nothing follows it

# Fields a client relies on, with a value of the wrong type for each.
_WRONG_TYPES: dict[str, Any] = {
    "status": 42,
    "payout": [1],
    "currency": 978,
    "settled_at": {"when": "soon"},
    "refund_id": 42,
    "amount": [1],
}
_ESSENTIAL = ("status", "payout", "refund_id", "amount")
_DROP = object()  # an override that removes the field
_SETTLED: dict[str, Any] = {"status": "settled", "settled_at": "2026-01-01T00:00:00+00:00"}
_HUGE = "9" * 5000

# Faults that rewrite fields of each record (each bet of a batch, else the body).
_OVERRIDES: dict[Fault, dict[str, Any]] = {
    Fault.NEGATIVE_PAYOUT: {**_SETTLED, "payout": "-5.00"},
    Fault.ABSURD_PAYOUT: {**_SETTLED, "payout": 1e20},
    Fault.NAN_PAYOUT: {**_SETTLED, "payout": math.nan},
    Fault.PRECISE_PAYOUT: {**_SETTLED, "payout": "5.123456"},
    Fault.HUGE_INTEGER: {**_SETTLED, "payout": _HUGE},  # unquoted in encode()
    Fault.UNKNOWN_STATUS: {"status": "won"},
    Fault.SETTLED_WITHOUT_PAYOUT: {**_SETTLED, "payout": None},
    Fault.LOWERCASE_CURRENCY: {**_SETTLED, "payout": "5.00", "currency": "eur"},
    Fault.GARBAGE_SETTLED_AT: {**_SETTLED, "payout": "5.00", "settled_at": "yesterday"},
    Fault.MISSING_BET_REF: {"bet_ref": _DROP},
    Fault.OTHER_KEY: {"idempotency_key": "refund:someone-else"},
    Fault.PENDING_REFUND: {"status": "pending"},
    Fault.NO_REFUND_ID: {"refund_id": _DROP},
    Fault.LONG_REFUND_ID: {"refund_id": "rf-" + "9" * 300},
}
# Faults that replace the whole body with these bytes.
_RAW: dict[Fault, bytes] = {
    Fault.EMPTY_BODY: b"",
    Fault.JSON_NULL: b"null",
    Fault.DEEP_JSON: b"[" * 100_000 + b"]" * 100_000,
    Fault.NOT_UTF8: b'{"bet_ref": "\xff\xfe", "status": "p\xe9nding"}',
    Fault.NUL_ERROR_BODY: b'{"error": "bad\x00request\x00"}',
}
# Faults that answer with another status code, and the body they answer with.
_STATUSES: dict[Fault, tuple[int, dict[str, Any]]] = {
    Fault.ERROR_WITH_200: (200, {"error": "internal error, try again later"}),
    Fault.HTTP_400: (400, {"error": "bad request"}),
    Fault.HTTP_403: (403, {"error": "forbidden"}),
    Fault.HTTP_418: (418, {"error": "I'm a teapot"}),
    Fault.REDIRECT_302: (302, {"error": "moved"}),
    Fault.NUL_ERROR_BODY: (400, {}),
}


def encode(body: dict[str, Any], fault: Fault | None, other_ref: str) -> tuple[bytes, str]:
    """Serialize ``body``, spoiled as ``fault`` says; return the bytes and the mimetype."""
    if fault is Fault.NOT_JSON:
        return NOT_JSON_BODY, "text/html"
    if fault in _RAW:
        return _RAW[fault], JSON
    if fault in _STATUSES:
        body = _STATUSES[fault][1]
    elif fault in (Fault.WRONG_TYPES, Fault.MISSING_FIELDS, Fault.OTHER_REF):
        body = _spoil(body, fault, other_ref)
    elif fault in _OVERRIDES or fault is Fault.OTHER_CURRENCY:
        body = _rewrite(body, fault)
    data = json.dumps(body, separators=(",", ":")).encode("utf-8")  # NaN stays NaN
    return _finish(data, fault), JSON


def status(fault: Fault | None, status_code: int) -> int:
    """The status code to answer with: the fault's own, else the true one."""
    if fault in _STATUSES:
        return _STATUSES[fault][0]
    return status_code


def headers(
    fault: Fault | None, secret: str, exchange: Exchange | None, status_code: int, data: bytes
) -> dict[str, str]:
    """The signature headers for the answer to ``exchange`` (spoiled for the signature
    faults; none without an exchange) and any headers the fault adds."""
    found: dict[str, str] = {}
    if exchange is not None:
        sign_as = _SIGNERS.get(fault, _genuine) if fault is not None else _genuine
        found = sign_as(secret, exchange, status_code, data)
    if fault is Fault.REDIRECT_302:
        found["Location"] = UNREACHABLE
    if fault in (Fault.SLOW_DRIP_DECLARED, Fault.TRUNCATED_BODY):
        extra = 100 if fault is Fault.TRUNCATED_BODY else 0
        found.update({"Content-Length": str(len(data) + extra), "Connection": "close"})
    return found


def stream(fault: Fault | None, data: bytes) -> Iterator[bytes] | None:
    """A generator that sends ``data`` the fault's way, or None to send it plainly."""
    if fault is Fault.ENDLESS_BODY:
        return _endless(data)
    if fault in (Fault.SLOW_DRIP, Fault.SLOW_DRIP_DECLARED):
        return _drip(data)
    if fault is Fault.TRUNCATED_BODY:
        return iter([data])  # a generator keeps the declared (too large) length
    return None


def _finish(data: bytes, fault: Fault | None) -> bytes:
    if fault is Fault.HUGE_INTEGER:
        return data.replace(f'"{_HUGE}"'.encode(), _HUGE.encode())
    if fault is Fault.JSON_ARRAY:
        return b"[" + data + b"]"
    if fault is Fault.OVERSIZED_BODY:
        return data + b" " * OVERSIZE_BYTES  # still valid JSON, just far too long
    return data


Signer = Callable[[str, Exchange, int, bytes], dict[str, str]]


def _genuine(secret: str, exchange: Exchange, status_code: int, data: bytes) -> dict[str, str]:
    return sign_response(secret, exchange, status_code, data)


def _replayed(secret: str, exchange: Exchange, _status: int, _data: bytes) -> dict[str, str]:
    """A genuine signature captured from an answer about another bet, to another request,
    with the echoed request id rewritten to this request's (the header is not secret)."""
    captured = Exchange(new_request_id(), "GET", "/bets/another-bet")
    signed = sign_response(secret, captured, 200, b'{"bet_ref":"another-bet","status":"pending"}')
    signed[REQUEST_ID_HEADER] = exchange.request_id
    return signed


def _stale(secret: str, exchange: Exchange, status_code: int, data: bytes) -> dict[str, str]:
    return sign_response(secret, exchange, status_code, data, now=time.time() - STALE_SECONDS)


def _malformed_timestamp(
    secret: str, exchange: Exchange, status_code: int, data: bytes
) -> dict[str, str]:
    signed = sign_response(secret, exchange, status_code, data)
    signed[TIMESTAMP_HEADER] = "\u00b9\u00b2\u00b3"  # superscript digits: isdigit(), not ASCII
    return signed


_SIGNERS: dict[Fault, Signer] = {
    Fault.BAD_SIGNATURE: lambda secret, exchange, status_code, data: sign_response(
        f"not-the-{secret}", exchange, status_code, data
    ),
    Fault.MISSING_SIGNATURE: lambda _secret, _exchange, _status, _data: {},
    Fault.REPLAYED_SIGNATURE: _replayed,
    Fault.STALE_SIGNATURE: _stale,
    Fault.MALFORMED_TIMESTAMP: _malformed_timestamp,
}


def _endless(data: bytes) -> Iterator[bytes]:
    yield data
    filler = b" " * (64 * 1024)
    ends, sent = time.monotonic() + STREAM_SECONDS, 0
    while time.monotonic() < ends and sent < STREAM_BYTES:
        yield filler
        sent += len(filler)


def _drip(data: bytes) -> Iterator[bytes]:
    ends = time.monotonic() + STREAM_SECONDS
    for index in range(len(data)):
        if time.monotonic() >= ends:
            return
        yield data[index : index + 1]
        time.sleep(DRIP_SECONDS)


def _records(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The objects a client validates: each bet of a batch, else the body itself."""
    bets = body.get("bets")
    if isinstance(bets, list) and bets:
        return [bet for bet in bets if isinstance(bet, dict)]
    return [body]


def _rewrite(body: dict[str, Any], fault: Fault) -> dict[str, Any]:
    body = json.loads(json.dumps(body))  # a deep copy; never spoil the caller's data
    for record in _records(body):
        if fault is Fault.OTHER_CURRENCY:
            other = "USD" if record.get("currency") != "USD" else "EUR"
            payout = record.get("payout") or "5.00"
            record.update({**_SETTLED, "payout": payout, "currency": other})
            continue
        for key, value in _OVERRIDES[fault].items():
            if value is _DROP:
                record.pop(key, None)
            else:
                record[key] = value
    return body


def _spoil(body: dict[str, Any], fault: Fault, other_ref: str) -> dict[str, Any]:
    body = json.loads(json.dumps(body))  # a deep copy; never spoil the caller's data
    records = _records(body)
    if fault is Fault.OTHER_REF:
        records[0]["bet_ref"] = other_ref
        return body
    for record in records:
        if fault is Fault.WRONG_TYPES:
            _wrong_types(record)
        else:
            _drop_fields(record)
    return body


def _wrong_types(record: dict[str, Any]) -> None:
    touched = False
    for key, wrong in _WRONG_TYPES.items():
        if key in record:
            record[key] = wrong
            touched = True
    if not touched:
        record["error"] = 42


def _drop_fields(record: dict[str, Any]) -> None:
    present = [key for key in _ESSENTIAL if key in record]
    if not present:
        record.clear()
    for key in present:
        del record[key]
