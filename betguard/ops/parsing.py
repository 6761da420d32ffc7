"""Parsing what an operator types: bet references, durations, deadlines and amounts.

Every refusal is an ``InvalidCommand`` naming the option, so the command can show
it as one line and exit with 1 before anything is read or changed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from betguard.models.domain.errors import InvalidCommand

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_BET_ID = re.compile(r"^#(\d{1,18})$")


@dataclass(frozen=True)
class BetSelector:
    """How an operator names a bet: ``provider/bet_ref``, or its numeric id as ``#123``."""

    provider: str = ""
    bet_ref: str = ""
    bet_id: int | None = None

    @property
    def label(self) -> str:
        return f"#{self.bet_id}" if self.bet_id is not None else f"{self.provider}/{self.bet_ref}"


def parse_ref(text: str) -> BetSelector:
    by_id = _BET_ID.match(text.strip())
    if by_id:
        return BetSelector(bet_id=int(by_id.group(1)))
    provider, slash, bet_ref = text.strip().partition("/")
    if not slash or not provider or not bet_ref:
        raise InvalidCommand(f"REF: expected provider/bet_ref or #id, not {text!r}")
    return BetSelector(provider=provider, bet_ref=bet_ref)


def parse_duration(text: str, option: str) -> timedelta:
    """``30s``, ``30m``, ``2h``, ``1d`` (a number and one unit)."""
    match = _DURATION.match(text)
    if match is None:
        raise InvalidCommand(f"{option}: {text!r} is not a duration like 30m, 2h or 1d")
    return timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2)])


def parse_deadline(text: str, now: datetime) -> datetime:
    """A moment in ISO-8601 (UTC when it names no offset) or a duration from now."""
    if _DURATION.match(text):
        return now + parse_duration(text, "--deadline")
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidCommand(
            f"--deadline: {text!r} is neither an ISO-8601 time nor a duration like 30m"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_amount(text: str, option: str) -> Decimal:
    try:
        amount = Decimal(text.strip())
    except InvalidOperation:
        raise InvalidCommand(f"{option}: {text!r} is not an amount like 100 or 12.50") from None
    if not amount.is_finite() or amount < 0:
        raise InvalidCommand(f"{option}: {text!r} must be a finite amount of at least 0")
    return amount
