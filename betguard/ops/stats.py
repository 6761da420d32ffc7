"""The numbers ops watch: bets per state and provider, how old the oldest pending
bet is, how often each provider fails, the review queue, refunds that are stuck, the
providers' history feeds, open reconciliation differences and paused games.

A refund counts as stuck when its wake-up is long overdue (the sweeps should have
dispatched it) or when the wallet already failed it several times: both mean
money in limbo that retrying alone may not fix.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from betguard.models.domain.events import EventKind
from betguard.models.domain.outbox import NotificationState
from betguard.models.domain.states import BetState
from betguard.models.store.tables import (
    AuditEvent,
    Bet,
    FeedCursor,
    GamePause,
    Notification,
    ReconciliationDifference,
    Review,
)
from betguard.ops.views import seconds_since

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
class FeedState:
    """Where the pull of one provider feed stands."""

    provider: str
    feed: str
    cursor: str | None
    last_success_at: datetime | None
    pulls: int
    rows_seen: int
    last_error: str | None
    synced_at: datetime | None = None  # when the copy last caught up with the provider


@dataclass(frozen=True)
class PausedGame:
    provider: str
    game_id: str  # "*": every game of the provider
    unreturned: int
    since: datetime


@dataclass(frozen=True)
class Stats:
    at: datetime
    bets: dict[str, dict[str, int]]
    oldest_pending: list[OldestPending]
    error_rates: list[ErrorRate]
    open_reviews: dict[str, int]
    stuck_refunds: list[StuckRefund]
    notifications: dict[str, int]
    open_differences: dict[str, dict[str, int]] = field(default_factory=dict)
    feeds: list[FeedState] = field(default_factory=list)
    paused_games: list[PausedGame] = field(default_factory=list)

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
            "open_differences": self.open_differences,
            "feeds": [
                {"provider": f.provider, "feed": f.feed, "cursor": f.cursor,
                 "last_success_at": f.last_success_at,
                 "last_success_age_seconds": None if f.last_success_at is None
                 else seconds_since(f.last_success_at, now),
                 "synced_at": f.synced_at,
                 "pulls": f.pulls, "rows_seen": f.rows_seen, "last_error": f.last_error}
                for f in self.feeds
            ],
            "paused_games": [
                {"provider": p.provider, "game_id": p.game_id, "unreturned": p.unreturned,
                 "since": p.since}
                for p in self.paused_games
            ],
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
        open_differences=open_differences(session),
        feeds=feed_states(session),
        paused_games=paused_games(session),
    )


def open_differences(session: Session) -> dict[str, dict[str, int]]:
    """Open reconciliation differences per provider and kind."""
    rows = session.execute(
        select(ReconciliationDifference.provider, ReconciliationDifference.kind, func.count())
        .where(ReconciliationDifference.resolved_at.is_(None))
        .group_by(ReconciliationDifference.provider, ReconciliationDifference.kind))
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for provider, kind, count in rows:
        counts[provider][kind] = count
    return {provider: dict(sorted(counts[provider].items())) for provider in sorted(counts)}


def feed_states(session: Session) -> list[FeedState]:
    rows = session.execute(
        select(FeedCursor.provider, FeedCursor.feed, FeedCursor.cursor,
               FeedCursor.last_success_at, FeedCursor.pulls, FeedCursor.rows_seen,
               FeedCursor.last_error, FeedCursor.synced_at)
        .order_by(FeedCursor.provider, FeedCursor.feed))
    return [FeedState(*row) for row in rows]


def paused_games(session: Session) -> list[PausedGame]:
    rows = session.execute(
        select(GamePause.provider, GamePause.game_id, GamePause.unreturned,
               GamePause.changed_at)
        .where(GamePause.paused.is_(True)).order_by(GamePause.provider, GamePause.game_id))
    return [PausedGame(*row) for row in rows]


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


def print_feeds_and_reconciliation(report: Stats) -> None:
    """The human form of the feeds, open differences and paused games."""
    from betguard.ops import output
    from betguard.ops.views import age, short_time

    output.table(["provider", "feed", "cursor", "last success", "age", "caught up", "pulls",
                  "rows", "last error"],
                 [[f.provider, f.feed, (f.cursor or "-")[:24], short_time(f.last_success_at),
                   "never" if f.last_success_at is None
                   else age((report.at - f.last_success_at).total_seconds()),
                   "never" if f.synced_at is None
                   else age((report.at - f.synced_at).total_seconds()) + " ago",
                   str(f.pulls), str(f.rows_seen), (f.last_error or "-")[:60]]
                  for f in report.feeds],
                 title="history feeds", empty="no feeds")
    output.table(["provider", "kind", "open"],
                 [[provider, kind, str(count)]
                  for provider, kinds in report.open_differences.items()
                  for kind, count in kinds.items()],
                 title="open reconciliation differences", empty="none")
    output.table(["provider", "game", "unreturned", "paused since"],
                 [[p.provider, p.game_id, str(p.unreturned), short_time(p.since)]
                  for p in report.paused_games],
                 title="paused games", empty="none")
