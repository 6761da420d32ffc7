"""The numbers ops watch: bets per state and provider, how old the oldest pending
bet is, how often each provider fails, the review queue, and refunds that are stuck.

A refund counts as stuck when its wake-up is long overdue (the sweeps should have
dispatched it) or when the wallet already failed it several times: both mean
money in limbo that retrying alone may not fix.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from betguard.ops.views import seconds_since
from models.events import EventKind
from models.outbox import NotificationState
from models.states import BetState
from models.tables import AuditEvent, Bet, Notification, Review

STUCK_AFTER = timedelta(minutes=5)
STUCK_FAILURES = 3
ERROR_WINDOW = timedelta(hours=1)
_ANSWERS = (EventKind.PROVIDER_ANSWERED.value, EventKind.PROVIDER_ERROR.value)
_REFUND_FAILURES = (EventKind.REFUND_FAILED.value, EventKind.REFUND_REJECTED.value)


@dataclass(frozen=True)
class OldestPending:
    provider: str
    ref: str
    placed_at: datetime


@dataclass(frozen=True)
class ErrorRate:
    """Provider errors among all provider answers in the last hour."""

    provider: str
    answered: int
    errors: int

    @property
    def rate(self) -> float:
        total = self.answered + self.errors
        return round(self.errors / total, 4) if total else 0.0


@dataclass(frozen=True)
class StuckRefund:
    bet_id: int
    ref: str
    next_check_at: datetime | None
    failures: int


@dataclass(frozen=True)
class Stats:
    at: datetime
    bets: dict[str, dict[str, int]]
    oldest_pending: list[OldestPending]
    error_rates: list[ErrorRate]
    open_reviews: dict[str, int]
    stuck_refunds: list[StuckRefund]
    notifications: dict[str, int]

    @property
    def dead_letters(self) -> int:
        return self.notifications.get(NotificationState.DEAD.value, 0)

    def as_json(self) -> dict[str, Any]:
        now = self.at
        return {
            "at": now,
            "bets": self.bets,
            "oldest_pending": {
                o.provider: {"ref": o.ref, "placed_at": o.placed_at,
                             "age_seconds": seconds_since(o.placed_at, now)}
                for o in self.oldest_pending
            },
            "provider_errors": {
                r.provider: {"answered": r.answered, "errors": r.errors, "rate": r.rate}
                for r in self.error_rates
            },
            "open_reviews": self.open_reviews,
            "stuck_refunds": [
                {"bet_id": s.bet_id, "ref": s.ref, "next_check_at": s.next_check_at,
                 "failures": s.failures}
                for s in self.stuck_refunds
            ],
            "notifications": self.notifications,
            "dead_letters": self.dead_letters,
        }


def collect_stats(session: Session, now: datetime) -> Stats:
    return Stats(
        at=now,
        bets=bets_by_provider_and_state(session),
        oldest_pending=oldest_pending(session),
        error_rates=error_rates(session, since=now - ERROR_WINDOW),
        open_reviews=open_reviews_by_reason(session),
        stuck_refunds=stuck_refunds(session, now),
        notifications=notifications_by_state(session),
    )


def notifications_by_state(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(Notification.state, func.count()).group_by(Notification.state))
    return {state: count for state, count in rows}


def bets_by_provider_and_state(session: Session) -> dict[str, dict[str, int]]:
    rows = session.execute(
        select(Bet.provider, Bet.state, func.count(Bet.id)).group_by(Bet.provider, Bet.state)
    )
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for provider, state, count in rows:
        counts[provider][state] = count
    return {provider: counts[provider] for provider in sorted(counts)}


def oldest_pending(session: Session) -> list[OldestPending]:
    firsts = (select(Bet.provider, func.min(Bet.placed_at).label("first"))
              .where(Bet.state == BetState.PENDING.value)
              .group_by(Bet.provider).subquery())
    rows = session.execute(
        select(Bet.provider, Bet.bet_ref, Bet.placed_at)
        .join(firsts, (Bet.provider == firsts.c.provider) & (Bet.placed_at == firsts.c.first))
        .where(Bet.state == BetState.PENDING.value)
        .order_by(Bet.provider, Bet.id)
    )
    oldest: dict[str, OldestPending] = {}
    for provider, bet_ref, placed_at in rows:
        oldest.setdefault(provider, OldestPending(provider, f"{provider}/{bet_ref}", placed_at))
    return list(oldest.values())


def error_rates(session: Session, *, since: datetime) -> list[ErrorRate]:
    rows = session.execute(
        select(Bet.provider, AuditEvent.kind, func.count(AuditEvent.id))
        .join(Bet, Bet.id == AuditEvent.bet_id)
        .where(AuditEvent.kind.in_(_ANSWERS), AuditEvent.at >= since)
        .group_by(Bet.provider, AuditEvent.kind)
    )
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for provider, kind, count in rows:
        counts[provider][kind] = count
    return [
        ErrorRate(provider, counts[provider].get(_ANSWERS[0], 0),
                  counts[provider].get(_ANSWERS[1], 0))
        for provider in sorted(counts)
    ]


def open_reviews_by_reason(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(Review.reason, func.count(Review.id))
        .where(Review.resolved_at.is_(None))
        .group_by(Review.reason)
        .order_by(Review.reason)
    )
    return {reason: count for reason, count in rows}


def stuck_refunds(session: Session, now: datetime) -> list[StuckRefund]:
    failures = (select(func.count(AuditEvent.id))
                .where(AuditEvent.bet_id == Bet.id, AuditEvent.kind.in_(_REFUND_FAILURES))
                .correlate(Bet)
                .scalar_subquery())
    rows = session.execute(
        select(Bet.id, Bet.provider, Bet.bet_ref, Bet.next_check_at, failures)
        .where(Bet.state == BetState.REFUND_PENDING.value,
               or_(Bet.next_check_at < now - STUCK_AFTER, failures >= STUCK_FAILURES))
        .order_by(Bet.id)
    )
    return [StuckRefund(bet_id, f"{provider}/{bet_ref}", next_check_at, count)
            for bet_id, provider, bet_ref, next_check_at, count in rows]
