"""The one interface every provider adapter implements, and the answers it gives."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Protocol


class ProviderStatus(StrEnum):
    PENDING = "pending"  # the provider has the bet but no result yet
    SETTLED = "settled"  # the provider has a result (payout may be zero: a lost bet)
    CANCELLED = "cancelled"  # the provider cancelled the bet: the stake is owed back
    # The provider does not know the bet (HTTP 404): perhaps never, perhaps not yet
    # (providers register bets late). Not a proof that nothing will settle it.
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class BetStatus:
    """What the provider says about one bet."""

    bet_ref: str
    status: ProviderStatus
    payout: Decimal | None = None
    currency: str | None = None
    settled_at: datetime | None = None

    def as_detail(self) -> dict[str, str | None]:
        """A JSON-ready form for audit events."""
        return {
            "status": self.status.value,
            "payout": None if self.payout is None else str(self.payout),
            "currency": self.currency,
            "settled_at": None if self.settled_at is None else self.settled_at.isoformat(),
        }


@dataclass(frozen=True)
class CancelOutcome:
    """The provider's answer to a cancel request.

    ``accepted`` is true when the bet is now cancelled at the provider, which fences
    the reference: for a bet the provider did not know (yet) it keeps a tombstone,
    so a late registration or result of that reference is refused. When the bet
    already had a result (HTTP 409) it is false and ``status`` carries that result.
    When the provider answered "never saw it" without keeping any record (HTTP 404)
    it is false with status UNKNOWN: nothing is fenced, so nothing is proven.
    """

    accepted: bool
    status: BetStatus


@dataclass(frozen=True)
class RefundReceipt:
    """The wallet's confirmation of a refund."""

    refund_id: str
    idempotency_key: str


class Provider(Protocol):
    """A game provider, as betguard needs it. Methods raise ``ProviderError``s."""

    name: str
    supports_batch: bool

    def get_status(self, bet_ref: str) -> BetStatus: ...

    def get_statuses(self, bet_refs: list[str]) -> dict[str, BetStatus]: ...

    def cancel(self, bet_ref: str) -> CancelOutcome: ...


class Wallet(Protocol):
    """The platform's wallet. ``refund`` raises ``WalletError``s."""

    def refund(
        self, *, idempotency_key: str, provider: str, bet_ref: str, amount: Decimal, currency: str
    ) -> RefundReceipt: ...
