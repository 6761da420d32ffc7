"""Spoiling response bodies on purpose.

A malformed answer is still correctly signed (unless the fault is the
signature itself), so only the client's validation can catch it — exactly
the case betguard must record as a provider error and never act upon.
"""

from __future__ import annotations

import json
from typing import Any

from providers.simulator.inputs import Fault

NOT_JSON_BODY = b"<html><body><h1>502 Bad Gateway</h1>upstream hiccup</body></html>"

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


def encode(body: dict[str, Any], fault: Fault | None, other_ref: str) -> tuple[bytes, str]:
    """Serialize ``body``, spoiled as ``fault`` says; return the bytes and the mimetype."""
    if fault is Fault.NOT_JSON:
        return NOT_JSON_BODY, "text/html"
    if fault in (Fault.WRONG_TYPES, Fault.MISSING_FIELDS, Fault.OTHER_REF):
        body = _spoil(body, fault, other_ref)
    return json.dumps(body, separators=(",", ":")).encode("utf-8"), "application/json"


def _records(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The objects a client validates: each bet of a batch, else the body itself."""
    bets = body.get("bets")
    if isinstance(bets, list) and bets:
        return [bet for bet in bets if isinstance(bet, dict)]
    return [body]


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
