"""What the simulator records: bets with their fates, refunds, and logged requests.

Plain data with the few rules that read it (what a bet's status is at a given
moment); locking and randomness stay in :mod:`betguard_devkit.simulator.state`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from betguard_devkit.simulator.inputs import Fate, RefundRequest, money


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
    known_from: float = 0.0  # when the provider's API starts to know it: placed + lag
    lag: float = 0.0
    fenceable: bool = True  # a cancel while it is not known leaves a tombstone
    cancelled: bool = False
    fenced: bool = False  # cancelled by a tombstone: before the provider knew the bet
    payout_sent: str | float | None = None  # the payout as the API words it (hostile)
    queries: int = 0
    batched_queries: int = 0  # of ``queries``, those asked in a batched status request
    cancels: int = 0

    def known_at(self, now: float) -> bool:
        """Whether the provider's API knows the bet (an "unknown" fate never does)."""
        return self.fate is not Fate.UNKNOWN and now >= self.known_from

    def status_at(self, now: float) -> str:
        if self.cancelled:
            return "cancelled"
        if not self.known_at(now):
            return "unknown"
        if self.result_at is not None and now >= self.result_at:
            return "settled"
        return "pending"

    def status_object(self, now: float) -> dict[str, Any]:
        """The provider contract's answer about this bet at ``now``."""
        status = self.status_at(now)
        settled = status == "settled"
        payout = money(self.payout) if settled and self.payout is not None else None
        return {
            "bet_ref": self.bet_ref,
            "status": status,
            "payout": self.payout_sent if settled and self.payout_sent is not None else payout,
            "currency": self.currency,
            "settled_at": iso(self.result_at) if settled else None,
        }

    def decision(self) -> dict[str, Any]:
        """The registration answer: the payout only when the game server got it (never
        for a bet the provider refused, its reference already fenced by a tombstone)."""
        given = self.fate is Fate.RETURNED and self.payout is not None and not self.fenced
        return {
            "bet_ref": self.bet_ref,
            "fate": self.fate.value,
            "payout": money(self.payout) if given and self.payout is not None else None,
            "currency": self.currency,
            "result_at": iso(self.result_at),
            "lag": self.lag,
            "fenced": self.fenced,
        }

    def truth(self, now: float) -> dict[str, Any]:
        """Everything an audit needs: the fate, whether the provider settled the bet (and
        what it paid), and whether it was cancelled, by a tombstone ("fenced") or not."""
        status = self.status_at(now)
        settled = status == "settled"
        return {
            "fate": self.fate.value,
            "stake": money(self.stake),
            "currency": self.currency,
            "payout": None if self.payout is None else money(self.payout),
            "result_at": iso(self.result_at),
            "lag": self.lag,
            "known_from": iso(self.known_from),
            "cancelled": self.cancelled,
            "fenced": self.fenced,
            "fenceable": self.fenceable,
            "settled": settled,
            "settled_payout": money(self.payout) if settled and self.payout is not None else None,
            "status_now": status,
            "queries": self.queries,
            "batched_queries": self.batched_queries,
            "cancels": self.cancels,
        }


def cancelled_object(bet_ref: str) -> dict[str, Any]:
    """The answer about a reference the provider holds only as a tombstone."""
    return {"bet_ref": bet_ref, "status": "cancelled", "payout": None, "currency": None,
            "settled_at": None}


@dataclass
class Refund:
    request: RefundRequest
    answer: dict[str, Any]
