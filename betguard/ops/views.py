"""What the ops commands show: plain views of bets, events and reviews, their JSON
form, and how times, ages and money are written.

Views are read inside a unit of work and used after it ends, so no command ever
touches a detached ORM object. Times are UTC ISO-8601; money is a string, never a
float, written as it travels to the wallet ("12.50", "0.125").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from betguard.models.domain.money import wire_amount
from betguard.models.store.tables import AuditEvent, Bet, Review


def money(amount: Decimal | None) -> str | None:
    return None if amount is None else wire_amount(amount)


def iso(moment: datetime | None) -> str | None:
    """The exact moment, for machines: microseconds kept, explicit UTC offset."""
    return None if moment is None else moment.astimezone(UTC).isoformat()


def short_time(moment: datetime | None) -> str:
    """The moment to the second, for people."""
    if moment is None:
        return "-"
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def event_time(moment: datetime) -> str:
    """A timeline entry's moment: milliseconds tell apart steps of one check."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def age(seconds: float) -> str:
    """A duration in its two largest units: ``45s``, ``4m12s``, ``2h05m``, ``3d04h``."""
    whole = max(0, int(seconds))
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours:02d}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def seconds_since(moment: datetime, now: datetime) -> float:
    return round((now - moment).total_seconds(), 3)


def to_json(data: object) -> str:
    return json.dumps(data, indent=2, default=_encode)


def _encode(value: object) -> object:
    if isinstance(value, Decimal):
        return money(value)
    if isinstance(value, datetime):
        return iso(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


@dataclass(frozen=True)
class BetView:
    """A bet as ops see it; ``attempts`` counts the checks that were started."""

    id: int
    provider: str
    bet_ref: str
    state: str
    stake: Decimal
    currency: str
    payout: Decimal | None
    placed_at: datetime
    deadline: datetime
    next_check_at: datetime | None
    final_at: datetime | None
    attempts: int
    player_id: str
    game_id: str
    round_id: str

    @classmethod
    def of(cls, bet: Bet, attempts: int) -> BetView:
        return cls(
            id=bet.id, provider=bet.provider, bet_ref=bet.bet_ref, state=bet.state,
            stake=bet.stake, currency=bet.currency, payout=bet.payout,
            placed_at=bet.placed_at, deadline=bet.deadline, next_check_at=bet.next_check_at,
            final_at=bet.final_at, attempts=attempts, player_id=bet.player_id,
            game_id=bet.game_id, round_id=bet.round_id,
        )

    @property
    def ref(self) -> str:
        return f"{self.provider}/{self.bet_ref}"

    def as_json(self, now: datetime) -> dict[str, Any]:
        return {
            "id": self.id, "ref": self.ref, "provider": self.provider, "bet_ref": self.bet_ref,
            "state": self.state, "stake": self.stake, "currency": self.currency,
            "payout": self.payout, "placed_at": self.placed_at,
            "age_seconds": seconds_since(self.placed_at, now), "deadline": self.deadline,
            "next_check_at": self.next_check_at, "final_at": self.final_at,
            "attempts": self.attempts, "player_id": self.player_id, "game_id": self.game_id,
            "round_id": self.round_id,
        }


@dataclass(frozen=True)
class EventView:
    """One step of a bet's history with the sentence that explains it."""

    at: datetime
    actor: str
    kind: str
    explanation: str
    detail: dict[str, Any]

    @classmethod
    def of(cls, event: AuditEvent, explanation: str) -> EventView:
        return cls(event.at, event.actor, event.kind, explanation, dict(event.detail))

    def as_json(self) -> dict[str, Any]:
        return {"at": self.at, "actor": self.actor, "kind": self.kind,
                "explanation": self.explanation, "detail": self.detail}


@dataclass(frozen=True)
class ReviewView:
    """A review item with the bet it is about and why it was opened."""

    id: int
    bet_id: int
    provider: str
    bet_ref: str
    reason: str
    opened_at: datetime
    why: str
    resolved_at: datetime | None
    resolution: str | None
    operator: str | None
    note: str | None
    detail: dict[str, Any]

    @classmethod
    def of(cls, review: Review, provider: str, bet_ref: str, why: str) -> ReviewView:
        return cls(
            id=review.id, bet_id=review.bet_id, provider=provider, bet_ref=bet_ref,
            reason=review.reason, opened_at=review.opened_at, why=why,
            resolved_at=review.resolved_at, resolution=review.resolution,
            operator=review.operator, note=review.note, detail=dict(review.detail),
        )

    @property
    def ref(self) -> str:
        return f"{self.provider}/{self.bet_ref}"

    @property
    def status(self) -> str:
        if self.resolved_at is None:
            return "open"
        return f"{self.resolution} by {self.operator}"

    def as_json(self, now: datetime) -> dict[str, Any]:
        return {
            "id": self.id, "bet_id": self.bet_id, "ref": self.ref, "reason": self.reason,
            "opened_at": self.opened_at, "age_seconds": seconds_since(self.opened_at, now),
            "why": self.why, "resolved_at": self.resolved_at, "resolution": self.resolution,
            "operator": self.operator, "note": self.note, "detail": self.detail,
        }
