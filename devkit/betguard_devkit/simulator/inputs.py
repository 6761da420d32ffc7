"""The simulator's vocabulary (fates, faults) and the parsing of what clients send.

Parsing lives apart from the state so the state only ever sees typed, valid
values, and every refusal names the field that caused it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

MAX_BATCH_REFS = 500
MAX_REF_LENGTH = 200
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_BAD_REF_CHARS = re.compile(r"[/\s\x00-\x1f\x7f]")


class Fate(StrEnum):
    """What happens to a bet at the provider."""

    RETURNED = "returned"  # result exists at once; the game server got it
    DELAYED = "delayed"  # pending until a delay has passed, then settled
    NEVER = "never"  # pending forever (until cancelled)
    UNKNOWN = "unknown"  # the provider never saw the bet (a cancel leaves a tombstone)


class Fault(StrEnum):
    """A way to spoil one response. ``OUTAGE`` is never queued, only switched on.

    Only the first seven are ever drawn at random (by the knobs); the rest are
    hostile answers a test queues on purpose (see :mod:`betguard_devkit.simulator.faults`).
    """

    BAD_SIGNATURE = "bad_signature"
    NOT_JSON = "not_json"
    WRONG_TYPES = "wrong_types"
    MISSING_FIELDS = "missing_fields"
    OTHER_REF = "other_ref"
    ERROR_503 = "error_503"
    TIMEOUT = "timeout"
    OUTAGE = "outage"
    # signatures that prove nothing
    MISSING_SIGNATURE = "missing_signature"  # no signature headers at all
    REPLAYED_SIGNATURE = "replayed_signature"  # a genuine signature, of another body
    STALE_SIGNATURE = "stale_signature"  # signed an hour ago
    MALFORMED_TIMESTAMP = "malformed_timestamp"  # a timestamp header that is not digits
    # well-formed JSON that breaks the contract
    NEGATIVE_PAYOUT = "negative_payout"
    ABSURD_PAYOUT = "absurd_payout"  # 1e20
    NAN_PAYOUT = "nan_payout"
    PRECISE_PAYOUT = "precise_payout"  # more decimals than money has
    HUGE_INTEGER = "huge_integer"  # a payout of 5000 digits: past Python's int-digits limit
    UNKNOWN_STATUS = "unknown_status"
    SETTLED_WITHOUT_PAYOUT = "settled_without_payout"
    LOWERCASE_CURRENCY = "lowercase_currency"
    OTHER_CURRENCY = "other_currency"  # settled in a valid currency that is not the bet's
    GARBAGE_SETTLED_AT = "garbage_settled_at"
    MISSING_BET_REF = "missing_bet_ref"
    ERROR_WITH_200 = "error_with_200"  # {"error": ...} under a 200
    # bodies that are no answer at all
    EMPTY_BODY = "empty_body"
    JSON_ARRAY = "json_array"
    JSON_NULL = "json_null"
    DEEP_JSON = "deep_json"  # 100 000 nested arrays
    NOT_UTF8 = "not_utf8"
    # status codes outside the contract
    HTTP_400 = "http_400"
    HTTP_403 = "http_403"
    HTTP_418 = "http_418"
    REDIRECT_302 = "redirect_302"
    NUL_ERROR_BODY = "nul_error_body"  # a 400 whose body holds NUL bytes
    # bodies that never end, or end too soon
    OVERSIZED_BODY = "oversized_body"  # over 1 MB, with its length declared
    ENDLESS_BODY = "endless_body"  # streamed without end (bounded here in time and size)
    SLOW_DRIP = "slow_drip"  # a byte every 0.3 s, chunked
    SLOW_DRIP_DECLARED = "slow_drip_declared"  # the same, with its length declared
    TRUNCATED_BODY = "truncated_body"  # declares more bytes than it sends, then hangs up
    # wallet receipts that are not about this refund
    OTHER_KEY = "other_key"
    PENDING_REFUND = "pending_refund"
    NO_REFUND_ID = "no_refund_id"
    LONG_REFUND_ID = "long_refund_id"


MALFORMED = (Fault.NOT_JSON, Fault.WRONG_TYPES, Fault.MISSING_FIELDS, Fault.OTHER_REF)
QUEUEABLE = tuple(fault for fault in Fault if fault is not Fault.OUTAGE)


class InputError(ValueError):
    """A request body was refused; ``field`` names what was wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class BetSpec:
    """A bet registered by the test or demo playing the game server."""

    bet_ref: str
    stake: Decimal
    currency: str
    fate: Fate | None = None
    delay: float | None = None
    payout: Decimal | None = None
    # Registration lag: seconds the provider answers 404 for the bet after it was
    # placed (None: drawn from the knobs' ``registration_lag_range``).
    lag: float | None = None
    # Whether a cancel of the bet while the provider does not know it leaves a
    # tombstone (None: the knobs' ``tombstones``); False answers such a cancel 404.
    fenceable: bool | None = None
    # The payout exactly as the provider's API words it once settled (any JSON string or
    # number, e.g. "\u0663.00" or -0.0): a hostile provider; None: the payout, plainly.
    payout_sent: str | float | None = None


@dataclass(frozen=True)
class RefundRequest:
    """A refund asked of the wallet; equality decides replay versus key reuse.

    ``by`` says who asked: "betguard" (a signed ``POST /refunds``) or "provider" (the
    provider pushing its own rollback, ``POST /_sim/rollback``)."""

    idempotency_key: str
    provider: str
    bet_ref: str
    amount: Decimal
    currency: str
    by: str = "betguard"


@dataclass(frozen=True)
class FaultRequest:
    """Queue ``fault`` for the next ``times`` responses about ``bet_ref`` (or the wallet)."""

    bet_ref: str | None
    fault: Fault
    times: int


def money(amount: Decimal) -> str:
    """Amounts travel as strings with two decimals, never as floats."""
    return f"{amount:.2f}"


def require_object(body: object, field: str = "body") -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InputError(field, "must be a JSON object")
    return body


def text(body: dict[str, Any], field: str, *, prefix: str = "") -> str:
    value = body.get(field)
    if not isinstance(value, str) or not value.strip():
        raise InputError(prefix + field, "must be a non-empty string")
    return value


def bet_ref(body: dict[str, Any], field: str = "bet_ref", *, prefix: str = "") -> str:
    value = text(body, field, prefix=prefix)
    return check_ref(value, prefix + field)


def check_ref(value: str, field: str) -> str:
    """Refs appear in URL paths, so no slashes, spaces or control characters."""
    if len(value) > MAX_REF_LENGTH or _BAD_REF_CHARS.search(value):
        raise InputError(field, f"must be at most {MAX_REF_LENGTH} characters, without / or spaces")
    return value


def amount(body: dict[str, Any], field: str, *, prefix: str = "", positive: bool = True) -> Decimal:
    raw = body.get(field)
    if not isinstance(raw, str):
        raise InputError(prefix + field, 'must be a decimal string such as "10.00"')
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise InputError(prefix + field, f"not a decimal: {raw[:32]!r}") from None
    exponent = value.as_tuple().exponent
    if not value.is_finite() or not isinstance(exponent, int) or exponent < -2:
        raise InputError(prefix + field, "must have at most two decimals")
    if value < 0 or (positive and value == 0):
        raise InputError(prefix + field, "must be positive" if positive else "must not be negative")
    return value


def currency(body: dict[str, Any], field: str = "currency", *, prefix: str = "") -> str:
    value = body.get(field)
    if not isinstance(value, str) or not _CURRENCY.match(value):
        raise InputError(prefix + field, "must be a three-letter ISO code such as EUR")
    return value


def _seconds(body: dict[str, Any], field: str, prefix: str) -> float | None:
    raw = body.get(field)
    if raw is None:
        return None
    is_number = isinstance(raw, int | float) and not isinstance(raw, bool)
    if not is_number or not math.isfinite(raw) or raw < 0:
        raise InputError(prefix + field, "must be a non-negative number of seconds")
    return float(raw)


def _payout_sent(body: dict[str, Any], prefix: str) -> str | float | None:
    raw = body.get("payout_sent")
    if raw is None or isinstance(raw, str | float):
        return raw
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    raise InputError(prefix + "payout_sent", "must be a JSON string or number")


def _flag(body: dict[str, Any], field: str, prefix: str) -> bool | None:
    raw = body.get(field)
    if raw is None or isinstance(raw, bool):
        return raw
    raise InputError(prefix + field, "must be true or false")


def _fate(body: dict[str, Any], prefix: str) -> Fate | None:
    raw = body.get("fate")
    if raw is None:
        return None
    if raw not in {fate.value for fate in Fate}:
        raise InputError(prefix + "fate", f"must be one of {', '.join(f.value for f in Fate)}")
    return Fate(raw)


def parse_bet_spec(body: object, prefix: str = "") -> BetSpec:
    data = require_object(body, prefix.rstrip(".") or "body")
    payout = None
    if data.get("payout") is not None:
        payout = amount(data, "payout", prefix=prefix, positive=False)
    return BetSpec(
        bet_ref=bet_ref(data, prefix=prefix),
        stake=amount(data, "stake", prefix=prefix),
        currency=currency(data, prefix=prefix),
        fate=_fate(data, prefix),
        delay=_seconds(data, "delay", prefix),
        payout=payout,
        lag=_seconds(data, "lag", prefix),
        fenceable=_flag(data, "fenceable", prefix),
        payout_sent=_payout_sent(data, prefix),
    )


def parse_registration(body: object) -> tuple[list[BetSpec], bool]:
    """Return the specs and whether the client sent many at once (``{"bets": [...]}``)."""
    data = require_object(body)
    if "bets" not in data:
        return [parse_bet_spec(data)], False
    items = data["bets"]
    if not isinstance(items, list):
        raise InputError("bets", "must be a list")
    return [parse_bet_spec(item, f"bets[{i}].") for i, item in enumerate(items)], True


def parse_bet_refs(body: object) -> list[str]:
    """The refs of a batch status request, duplicates dropped, order kept."""
    data = require_object(body)
    refs = data.get("bet_refs")
    if not isinstance(refs, list):
        raise InputError("bet_refs", "must be a list of strings")
    if len(refs) > MAX_BATCH_REFS:
        raise InputError("bet_refs", f"at most {MAX_BATCH_REFS} refs per request")
    for i, ref in enumerate(refs):
        if not isinstance(ref, str) or not ref:
            raise InputError(f"bet_refs[{i}]", "must be a non-empty string")
    return list(dict.fromkeys(refs))


def parse_refund(data: dict[str, Any]) -> RefundRequest:
    return RefundRequest(
        idempotency_key=text(data, "idempotency_key"),
        provider=text(data, "provider"),
        bet_ref=text(data, "bet_ref"),
        amount=amount(data, "amount"),
        currency=currency(data),
    )


def rollback_key(provider: str, bet_ref: str) -> str:
    """The ledger key of a provider's rollback: one per bet, so a rollback pushed again
    is a replay of the first."""
    return f"rollback:{provider}:{bet_ref}"


def parse_rollback(body: object) -> RefundRequest:
    """``POST /_sim/rollback``: the provider pays a bet's stake back on its own."""
    data = require_object(body)
    provider = text(data, "provider")
    ref = bet_ref(data)
    return RefundRequest(
        idempotency_key=rollback_key(provider, ref),
        provider=provider,
        bet_ref=ref,
        amount=amount(data, "amount"),
        currency=currency(data),
        by="provider",
    )


def parse_fault_request(body: object) -> FaultRequest:
    data = require_object(body)
    raw_fault = data.get("fault")
    if raw_fault not in {fault.value for fault in QUEUEABLE}:
        raise InputError("fault", f"must be one of {', '.join(f.value for f in QUEUEABLE)}")
    times = data.get("times", 1)
    if isinstance(times, bool) or not isinstance(times, int) or times < 1:
        raise InputError("times", "must be a positive integer")
    if data.get("target") == "wallet":
        return FaultRequest(None, Fault(raw_fault), times)
    if "target" in data:
        raise InputError("target", 'must be "wallet" (or absent, with bet_ref)')
    return FaultRequest(bet_ref(data), Fault(raw_fault), times)
