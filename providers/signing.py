"""HMAC-SHA256 signing of HTTP bodies, used in both directions.

The signature covers ``"{timestamp}.{body}"`` so that a captured body cannot
be replayed later under a fresh timestamp, and a stale timestamp is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

TIMESTAMP_HEADER = "X-Betguard-Timestamp"
SIGNATURE_HEADER = "X-Betguard-Signature"
DEFAULT_MAX_SKEW_SECONDS = 300


class SignatureError(ValueError):
    """Raised when a message's signature is missing, malformed, stale or wrong."""


def signature(secret: str, timestamp: str, body: bytes) -> str:
    message = timestamp.encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, *, now: float | None = None) -> dict[str, str]:
    """Return the headers that sign ``body``."""
    timestamp = str(int(time.time() if now is None else now))
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: signature(secret, timestamp, body)}


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float | None = None,
    max_skew: float = DEFAULT_MAX_SKEW_SECONDS,
) -> None:
    """Raise :class:`SignatureError` unless ``headers`` carry a fresh, valid signature."""
    timestamp = headers.get(TIMESTAMP_HEADER)
    given = headers.get(SIGNATURE_HEADER)
    if not timestamp or not given:
        raise SignatureError("missing signature headers")
    # Header values come off the wire: only plain ASCII digits and hex are well-formed.
    if not (timestamp.isascii() and timestamp.isdigit()):
        raise SignatureError(f"malformed timestamp {timestamp[:32]!r}")
    if not (given.isascii() and len(given) == 64):
        raise SignatureError("malformed signature")
    sent_at = int(timestamp)
    current = time.time() if now is None else now
    if abs(current - sent_at) > max_skew:
        raise SignatureError(f"stale timestamp: {int(current - sent_at)} s from now")
    if not hmac.compare_digest(signature(secret, timestamp, body), given):
        raise SignatureError("signature does not match the body")
