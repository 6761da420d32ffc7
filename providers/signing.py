"""HMAC-SHA256 signatures that bind a message to one request, used in both directions.

A request is signed over its method, its request target (the percent-encoded path
and query exactly as on the request line), a fresh random request id, a timestamp
and the body. The answer echoes the request id and is signed over the same request
id, method and target, its own status code, a timestamp and its body. So a captured
answer cannot be replayed onto another bet or another request, nor its status
changed (a 200 into a 404), and a captured request cannot be sent to another path.

Canonical strings (fields joined by ``\\n``, the body appended as raw bytes)::

    v2-request\\n{timestamp}\\n{request_id}\\n{METHOD}\\n{target}\\n{body}
    v2-response\\n{timestamp}\\n{request_id}\\n{status}\\n{METHOD}\\n{target}\\n{body}

Every field but the body is checked for shape before it is signed or verified,
so no field can contain the separator and no two messages share a string.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass

TIMESTAMP_HEADER = "X-Betguard-Timestamp"
SIGNATURE_HEADER = "X-Betguard-Signature"
REQUEST_ID_HEADER = "X-Betguard-Request-Id"
DEFAULT_MAX_SKEW_SECONDS = 300

_REQUEST_LABEL = b"v2-request"
_RESPONSE_LABEL = b"v2-response"
# Header values come off the wire: only these shapes are well-formed. Bounded
# lengths keep int() and the HMAC away from megabytes of digits.
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"[0-9a-f]{64}")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{16,128}")
_METHOD = re.compile(r"[A-Z]{1,16}")
_TARGET = re.compile(r"/[\x21-\x7e]{0,8191}")  # printable ASCII, no spaces, from the root


class SignatureError(ValueError):
    """Raised when a message's signature is missing, malformed, stale or wrong."""


@dataclass(frozen=True)
class Exchange:
    """The request a signature is bound to: its id, method and request target."""

    request_id: str
    method: str
    target: str  # percent-encoded path (and "?query", if any), as on the request line

    def check(self) -> Exchange:
        """Raise :class:`SignatureError` unless every field has its well-formed shape."""
        if not _REQUEST_ID.fullmatch(self.request_id):
            raise SignatureError(f"malformed request id {self.request_id[:32]!r}")
        if not _METHOD.fullmatch(self.method):
            raise SignatureError(f"malformed method {self.method[:16]!r}")
        if not _TARGET.fullmatch(self.target):
            raise SignatureError(f"malformed request target {self.target[:64]!r}")
        return self


def new_request_id() -> str:
    """A fresh request id: 128 random bits, never reused."""
    return secrets.token_hex(16)


def request_signature(secret: str, timestamp: str, exchange: Exchange, body: bytes) -> str:
    fields = (timestamp, exchange.request_id, exchange.method, exchange.target)
    return _hmac(secret, _REQUEST_LABEL, fields, body)


def response_signature(
    secret: str, timestamp: str, exchange: Exchange, status: int, body: bytes
) -> str:
    fields = (timestamp, exchange.request_id, str(status), exchange.method, exchange.target)
    return _hmac(secret, _RESPONSE_LABEL, fields, body)


def sign_request(
    secret: str, exchange: Exchange, body: bytes, *, now: float | None = None
) -> dict[str, str]:
    """The headers that sign a request: timestamp, request id and signature."""
    exchange.check()
    timestamp = _timestamp(now)
    return {
        TIMESTAMP_HEADER: timestamp,
        REQUEST_ID_HEADER: exchange.request_id,
        SIGNATURE_HEADER: request_signature(secret, timestamp, exchange, body),
    }


def sign_response(
    secret: str, exchange: Exchange, status: int, body: bytes, *, now: float | None = None
) -> dict[str, str]:
    """The headers that sign the answer to ``exchange``: timestamp, echoed id, signature."""
    exchange.check()
    _check_status(status)
    timestamp = _timestamp(now)
    return {
        TIMESTAMP_HEADER: timestamp,
        REQUEST_ID_HEADER: exchange.request_id,
        SIGNATURE_HEADER: response_signature(secret, timestamp, exchange, status, body),
    }


def request_id_of(headers: Mapping[str, str]) -> str | None:
    """The request id a request carries, if it is well-formed (else None)."""
    found = _header(headers, REQUEST_ID_HEADER)
    return found if found is not None and _REQUEST_ID.fullmatch(found) else None


def verify_request(
    secret: str,
    headers: Mapping[str, str],
    *,
    method: str,
    target: str,
    body: bytes,
    now: float | None = None,
    max_skew: float = DEFAULT_MAX_SKEW_SECONDS,
) -> Exchange:
    """Check a request as its server received it; return the exchange to sign the answer.

    ``target`` is the raw request target (never a decoded path).
    """
    timestamp, given, request_id = _signature_headers(headers)
    exchange = Exchange(request_id, method, target).check()
    _check_fresh(timestamp, now, max_skew)
    expected = request_signature(secret, timestamp, exchange, body)
    if not hmac.compare_digest(expected, given):
        raise SignatureError("signature does not match the body and request")
    return exchange


def verify_response(
    secret: str,
    headers: Mapping[str, str],
    exchange: Exchange,
    status: int,
    body: bytes,
    *,
    now: float | None = None,
    max_skew: float = DEFAULT_MAX_SKEW_SECONDS,
) -> None:
    """Raise :class:`SignatureError` unless this answer was signed for ``exchange``.

    ``exchange`` is the verifier's own request and ``status`` the code it received.
    """
    timestamp, given, echoed = _signature_headers(headers)
    exchange.check()
    if echoed != exchange.request_id:
        raise SignatureError(f"an answer to another request (request id {echoed[:32]!r})")
    _check_status(status)
    _check_fresh(timestamp, now, max_skew)
    expected = response_signature(secret, timestamp, exchange, status, body)
    if not hmac.compare_digest(expected, given):
        raise SignatureError("signature does not match the body, status and request")


def _signature_headers(headers: Mapping[str, str]) -> tuple[str, str, str]:
    found = {name: _header(headers, name) for name in
             (TIMESTAMP_HEADER, SIGNATURE_HEADER, REQUEST_ID_HEADER)}
    missing = [name for name, value in found.items() if not value]
    if missing:
        raise SignatureError(f"missing signature headers: {', '.join(missing)}")
    timestamp, given, request_id = (str(value) for value in found.values())
    if not _TIMESTAMP.fullmatch(timestamp):
        raise SignatureError(f"malformed timestamp {timestamp[:32]!r}")
    if not _SIGNATURE.fullmatch(given):
        raise SignatureError("malformed signature")
    if not _REQUEST_ID.fullmatch(request_id):
        raise SignatureError(f"malformed request id {request_id[:32]!r}")
    return timestamp, given, request_id


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """A header looked up regardless of case (plain dicts of headers keep the sender's)."""
    value = headers.get(name)
    if value is not None:
        return value
    wanted = name.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), None)


def _check_fresh(timestamp: str, now: float | None, max_skew: float) -> None:
    sent_at = int(timestamp)  # at most 12 ASCII digits: checked by the caller
    current = time.time() if now is None else now
    if abs(current - sent_at) > max_skew:
        raise SignatureError(f"stale timestamp: {int(current - sent_at)} s from now")


def _check_status(status: int) -> None:
    if not 100 <= status <= 599:
        raise SignatureError(f"malformed status code {status}")


def _timestamp(now: float | None) -> str:
    return str(int(time.time() if now is None else now))


def _hmac(secret: str, label: bytes, fields: tuple[str, ...], body: bytes) -> str:
    message = b"\n".join([label, *(field.encode("ascii") for field in fields), body])
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
