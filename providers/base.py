"""The one interface every provider adapter implements, and the wallet's.

The answers they give are domain values (``betguard.models.domain.answers``); they are named here
too, so an adapter finds its whole contract in this module.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Protocol

from betguard.models.domain.answers import (
    GENERIC_CAPABILITIES,
    BetStatus,
    CancelOutcome,
    Capability,
    HistoryPage,
    HistoryRow,
    ProviderStatus,
    RefundReceipt,
)

__all__ = [
    "GENERIC_CAPABILITIES", "BetStatus", "CancelOutcome", "Capability", "HistoryPage",
    "HistoryRow", "Provider", "ProviderStatus", "RefundReceipt", "Wallet",
]


class Provider(Protocol):
    """A game provider, as betguard needs it. Methods raise ``ProviderError``s.

    A method outside the provider's ``capabilities`` raises ``ProviderRejected``.
    The ``bet_ref`` a call is given, and the one its answers and history rows carry, is
    the name the provider gives the bet: its ``round_ref`` (the bet's own reference, but
    for a provider that names rounds, not bets: docs/design.md, "Bets and rounds").
    ``player_id`` is the bet's player, for providers whose calls name the player (the
    others ignore it).
    ``feeds`` names the provider's history feeds (one per domain the history is split
    over; empty without ``Capability.HISTORY``).
    """

    name: str
    supports_batch: bool
    capabilities: frozenset[Capability]
    feeds: tuple[str, ...]

    def get_status(self, bet_ref: str, player_id: str = "") -> BetStatus: ...

    def get_statuses(self, bet_refs: list[str]) -> dict[str, BetStatus]: ...

    def cancel(self, bet_ref: str, player_id: str = "") -> CancelOutcome: ...

    def fetch_history(self, feed: str, cursor: str | None) -> HistoryPage:
        """The feed's rows from ``cursor`` on (None: from its start). Rows at the cursor's
        boundary may come again; callers upsert by ``row_id``."""
        ...

    def fetch_history_window(self, start: datetime, end: datetime) -> HistoryPage:
        """One page of the rows of bets placed in [start, end] (``Capability.
        HISTORY_WINDOW``); while ``more``, the next page starts at ``cursor`` (ms since
        the epoch, inclusive: rows there may come again)."""
        ...


class Wallet(Protocol):
    """The platform's wallet. ``refund`` raises ``WalletError``s."""

    def refund(
        self, *, idempotency_key: str, provider: str, bet_ref: str, amount: Decimal, currency: str
    ) -> RefundReceipt: ...
