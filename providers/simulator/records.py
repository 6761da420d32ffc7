"""What the simulator records: bets with their fates, refunds, and logged requests.

Plain data with the few rules that read it (what a bet's status is at a given
moment); locking and randomness stay in :mod:`providers.simulator.state`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from providers.simulator.inputs import Fate, RefundRequest, money


def iso(moment: float | None) -> str | None:
    return None if moment is None else datetime.fromtimestamp(moment, tz=UTC).isoformat()


@dataclass
class SimBet:
    """One registered bet and what the provider knows of it."""

    bet_ref: str
    fate: Fate
    stake: Decimal
    currency: str
    payout: Decimal | None
    result_at: float | None
    cancelled: bool = False
    queries: int = 0
    cancels: int = 0

    def status_at(self, now: float) -> str:
        if self.fate is Fate.UNKNOWN:
            return "unknown"
        if self.cancelled:
            return "cancelled"
        if self.result_at is not None and now >= self.result_at:
            return "settled"
        return "pending"

    def status_object(self, now: float) -> dict[str, Any]:
        """The provider contract's answer about this bet at ``now``."""
        status = self.status_at(now)
        settled = status == "settled"
        return {
            "bet_ref": self.bet_ref,
            "status": status,
            "payout": money(self.payout) if settled and self.payout is not None else None,
            "currency": self.currency,
            "settled_at": iso(self.result_at) if settled else None,
        }

    def decision(self) -> dict[str, Any]:
        """The registration answer: the payout only when the game server got it."""
        given = self.fate is Fate.RETURNED and self.payout is not None
        return {
            "bet_ref": self.bet_ref,
            "fate": self.fate.value,
            "payout": money(self.payout) if given and self.payout is not None else None,
            "currency": self.currency,
            "result_at": iso(self.result_at),
        }

    def truth(self, now: float) -> dict[str, Any]:
        return {
            "fate": self.fate.value,
            "stake": money(self.stake),
            "currency": self.currency,
            "payout": None if self.payout is None else money(self.payout),
            "result_at": iso(self.result_at),
            "cancelled": self.cancelled,
            "status_now": self.status_at(now),
            "queries": self.queries,
            "cancels": self.cancels,
        }


@dataclass
class Refund:
    request: RefundRequest
    answer: dict[str, Any]


@dataclass(slots=True)
class LogEntry:
    """A request, logged when it arrives; ``status`` is filled in when answered."""

    t: float
    method: str
    path: str
    status: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"t": self.t, "method": self.method, "path": self.path, "status": self.status}
