"""A provider whose calls meet: each waits until a given number are in flight at once,
and the pending bets the batched checks' unit tests ask it about."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from betguard.models.domain.snapshot import BetSnapshot
from betguard.models.domain.states import BetState
from betguard.providers.base import GENERIC_CAPABILITIES, BetStatus, CancelOutcome, ProviderStatus

PLACED = datetime(2026, 1, 1, tzinfo=UTC)
HELD_FOR_GOOD = 30.0  # a test fails long before a held cancel would be let go


def bet(number: int) -> BetSnapshot:
    return BetSnapshot(
        id=number, provider="acme", bet_ref=f"b-{number}", round_ref=f"b-{number}",
        player_id="p", game_id="g",
        round_id=f"r-{number}", stake=Decimal("10.00"), currency="EUR", placed_at=PLACED,
        state=BetState.PENDING, payout=None, deadline=PLACED + timedelta(minutes=1),
        next_check_at=None, check_attempt=2, version=1,
    )


class MeetingProvider:
    """Each cancel waits until ``parties`` cancels are in flight at once: asked one after
    the other, the first would wait in vain and fail."""

    name, supports_batch = "acme", True
    capabilities, feeds = GENERIC_CAPABILITIES, ()

    def __init__(self, parties: int) -> None:
        self.barrier = threading.Barrier(parties, timeout=HELD_FOR_GOOD)

    def get_status(self, bet_ref: str, player_id: str = "") -> BetStatus:
        raise AssertionError("only cancels are asked here")

    def get_statuses(self, bet_refs: list[str]) -> dict[str, BetStatus]:
        raise AssertionError("only cancels are asked here")

    def cancel(self, bet_ref: str, player_id: str = "") -> CancelOutcome:
        self.barrier.wait()
        return CancelOutcome(accepted=True, status=BetStatus(bet_ref, ProviderStatus.CANCELLED))
