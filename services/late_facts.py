"""Facts that arrive when a bet has already moved on: recorded, and never allowed
to overwrite a decided bet. A contradicting fact opens a conflict review."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from betguard.models.domain.events import EventKind, ReviewReason
from betguard.models.domain.snapshot import BetSnapshot
from betguard.models.domain.states import BetState
from betguard.models.domain.transitions import NewEvent
from betguard.models.store import repository
from betguard.models.store.db import Session
from betguard.providers.base import ProviderStatus


@dataclass(frozen=True)
class Fact:
    """What someone says became of a bet."""

    source: str
    status: ProviderStatus
    payout: Decimal | None = None
    currency: str | None = None

    def as_detail(self) -> dict[str, str | None]:
        return {
            "source": self.source,
            "status": self.status.value,
            "payout": None if self.payout is None else str(self.payout),
            "currency": self.currency,
        }


def contradicts(bet: BetSnapshot, fact: Fact) -> bool:
    """Whether ``fact`` disagrees with what was decided for ``bet``."""
    if fact.status is ProviderStatus.PENDING:
        return False
    says_result = fact.status is ProviderStatus.SETTLED
    if bet.state is BetState.SETTLED:
        return not says_result or fact.payout != bet.payout or fact.currency != bet.currency
    if bet.state in (BetState.REFUNDED, BetState.REFUND_PENDING):
        return says_result
    return False


def note_late_fact(
    session: Session, bet: BetSnapshot, fact: Fact, *, events: list[NewEvent], now: datetime
) -> bool:
    """Record ``events`` and, if ``fact`` contradicts the decided bet, open a conflict
    review holding both facts. Changes no state and no money. Returns True when a
    conflict review is open for this fact afterwards."""
    if not contradicts(bet, fact):
        ignored = {"state": bet.state.value, **fact.as_detail()}
        repository.add_events(
            session, bet.id,
            [*events, NewEvent(EventKind.LATE_ANSWER_IGNORED, "betguard", ignored)], now=now,
        )
        return False
    decided = {"state": bet.state.value, "payout": None if bet.payout is None else str(bet.payout)}
    detail: dict[str, object] = {"decided": decided, "late_fact": fact.as_detail()}
    already_open = any(
        r.reason == ReviewReason.CONFLICT and r.detail.get("late_fact") == detail["late_fact"]
        for r in repository.open_reviews(session, bet.id)
    )
    if not already_open:
        repository.open_review_item(session, bet.id, ReviewReason.CONFLICT, detail, now=now)
        events = [*events, NewEvent(EventKind.CONFLICT_REVIEW_OPENED, "betguard", detail)]
    repository.add_events(session, bet.id, events, now=now)
    return True
