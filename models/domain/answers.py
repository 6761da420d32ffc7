"""What providers and the wallet answer, in betguard's terms: a bet's status, a cancel's
outcome, a refund's receipt, a page of a history feed, and what a provider's API offers.

Domain values: the escalation decides on them and persistence mirrors them, neither
knowing any adapter. The adapters (``betguard.providers``) produce them; the interfaces
they implement are in ``betguard.providers.base``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum


class ProviderStatus(StrEnum):
    PENDING = "pending"  # the provider has the bet but no result yet
    SETTLED = "settled"  # the provider has a result (payout may be zero: a lost bet)
    CANCELLED = "cancelled"  # the provider cancelled the bet: the stake is owed back
    # The provider does not know the bet (HTTP 404): perhaps never, perhaps not yet
    # (providers register bets late). Not a proof that nothing will settle it.
    UNKNOWN = "unknown"
    # The provider says the bet has its result but this answer does not carry it (e.g. a
    # cancel refused because the round is completed): the result comes from its history
    # feed. Never a reason to refund.
    FINISHED = "finished"


class Hand(StrEnum):
    """Where a record stands in its round, for providers that record a round hand by hand
    (PG Soft: one record per hand, a round with free spins has several). A row without
    a hand is a whole bet."""

    NOT_LAST = "not_last"  # more hands of the round are to come
    LAST = "last"  # the round's last hand: with it, the round is whole
    ADJUSTED = "adjusted"  # the provider adjusted the record afterwards: final too


# ``via`` of an answer read from a provider's history feed (the mirror), not asked of it.
VIA_MIRROR = "mirror"


@dataclass(frozen=True)
class BetStatus:
    """What the provider says about one bet."""

    bet_ref: str
    status: ProviderStatus
    payout: Decimal | None = None
    currency: str | None = None
    settled_at: datetime | None = None
    # Where the answer came from when not the provider's primary base URL: a fallback
    # (mirror) domain, or "mirror" for a history-only provider's feed mirror.
    via: str | None = None
    # For an answer read from the mirror: up to when that copy was whole (the feeds'
    # ``synced_at``, read before the rows; None: never caught up). Not in its detail.
    as_of: datetime | None = None
    # The provider's id of the call that brought the answer (PG's ``trace_id``), for
    # its support: named in the bet's audit trail.
    trace_id: str | None = None
    # The stake the answer's payout is for, when it says (a history row's): a round's
    # whole stake, for a provider that answers about rounds (``betguard.models.domain.rounds``).
    stake: Decimal | None = None

    def as_detail(self) -> dict[str, str | None]:
        """A JSON-ready form for audit events."""
        detail = {
            "status": self.status.value,
            "payout": None if self.payout is None else str(self.payout),
            "currency": self.currency,
            "settled_at": None if self.settled_at is None else self.settled_at.isoformat(),
        }
        if self.via is not None:
            detail["via"] = self.via
        if self.trace_id is not None:
            detail["trace_id"] = self.trace_id
        return detail


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
    """The wallet's confirmation of a refund. ``paid_by`` is "betguard" when this refund
    paid, or who else already paid the stake back for the same bet (the provider's own
    rollback): the wallet pays each bet's stake back once, whoever asks."""

    refund_id: str
    idempotency_key: str
    paid_by: str = "betguard"


class Capability(StrEnum):
    """What a provider's API offers; the checks and the escalation use only what it has
    (docs/design.md, "Provider capabilities")."""

    STATUS = "status"  # answers about one bet
    BATCH_STATUS = "batch_status"  # answers about many bets in one call
    CANCEL = "cancel"  # cancels a bet on request, fencing its reference
    HISTORY = "history"  # publishes its bet history as a feed read with a cursor
    # answers its history of a time window too (reconciliation refills a window from it)
    HISTORY_WINDOW = "history_window"


# What the generic contract offers (docs/design.md): status, batch status and cancel.
GENERIC_CAPABILITIES = frozenset({Capability.STATUS, Capability.BATCH_STATUS, Capability.CANCEL})


@dataclass(frozen=True)
class HistoryRow:
    """One record of a provider's history feed, in betguard's terms.

    ``row_id`` is the provider's own id of the record, unique per provider: a row seen
    twice (a page boundary, a replay) is the same row. ``version`` orders the states of
    one row; an older version never replaces a newer one. Two rows with different ids for
    one ``bet_ref`` are duplicates at the provider (e.g. a round paid twice) -- unless
    they carry a ``hand``: then they are the hands of one round, and
    ``betguard.models.domain.hands`` folds them into the round's one row (``hands``: how many
    records it stands for).
    """

    row_id: str
    bet_ref: str
    status: ProviderStatus  # PENDING, SETTLED or CANCELLED (never UNKNOWN)
    version: int
    stake: Decimal | None = None
    payout: Decimal | None = None
    currency: str | None = None
    placed_at: datetime | None = None
    settled_at: datetime | None = None
    hand: Hand | None = None
    hands: int = 1
    trace_id: str | None = None  # the call that brought this version (PG's ``trace_id``)

    def as_status(self) -> BetStatus:
        return BetStatus(bet_ref=self.bet_ref, status=self.status, payout=self.payout,
                         currency=self.currency, settled_at=self.settled_at,
                         trace_id=self.trace_id)

    def as_detail(self) -> dict[str, str | int | None]:
        """A JSON-ready form for audit events and reconciliation differences."""
        return {
            "row_id": self.row_id,
            "version": self.version,
            "stake": None if self.stake is None else str(self.stake),
            "placed_at": None if self.placed_at is None else self.placed_at.isoformat(),
            **({} if self.hands == 1 else {"hands": self.hands}),
            **self.as_status().as_detail(),
        }


@dataclass(frozen=True)
class HistoryPage:
    """One answer of a history feed: its rows, where the next pull starts, and whether
    another page is ready now (False: the feed is caught up)."""

    rows: list[HistoryRow]
    cursor: str
    more: bool
    trace_id: str | None = None  # the call's own id, for the provider's support
