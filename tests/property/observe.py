"""Reading what is true after a step: the bets, their histories and reviews in the
database; the provider's and the wallet's side from the simulator."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import unquote

from sqlalchemy import select

from betguard.models.store.db import Database
from betguard.models.store.tables import AuditEvent, Bet, Review

# The simulator's request log is read with this much overlap (seconds), so a request
# logged at the very moment of the last read is not missed; overlaps are deduplicated.
LOG_OVERLAP = 1.0


@dataclass(frozen=True)
class BetRow:
    id: int
    provider: str
    bet_ref: str
    state: str
    payout: Decimal | None
    version: int
    deadline: datetime
    next_check_at: datetime | None
    check_attempt: int
    duplicate_deliveries: int
    final_at: datetime | None

    @property
    def label(self) -> str:
        return f"bet {self.id} ({self.provider}/{self.bet_ref}, {self.state})"


@dataclass(frozen=True)
class EventRow:
    kind: str
    actor: str
    detail: dict[str, Any]


@dataclass(frozen=True)
class ReviewRow:
    id: int
    reason: str
    resolved: bool
    facts: tuple[dict[str, Any], ...] = ()  # final facts attached to it (review_facts)


@dataclass(frozen=True)
class Observation:
    bets: dict[int, BetRow]
    events: dict[int, list[EventRow]]  # in the order they were written
    reviews: dict[int, list[ReviewRow]]
    status_queries: dict[str, int]  # requests the provider received, by bet ref
    cancels: dict[str, int]
    # The wallet's ledger for our refs, by idempotency key; "requests" counts the calls.
    refunds: dict[str, dict[str, Any]]

    def open_reviews(self, bet_id: int) -> list[ReviewRow]:
        return [r for r in self.reviews.get(bet_id, []) if not r.resolved]

    def kinds(self, bet_id: int, *kinds: str) -> list[EventRow]:
        return [e for e in self.events.get(bet_id, []) if e.kind in kinds]

    def queries(self, bet: BetRow) -> int:
        return self.status_queries.get(bet.bet_ref, 0)

    def cancels_of(self, bet: BetRow) -> int:
        return self.cancels.get(bet.bet_ref, 0)

    def by_ref(self, bet_ref: str) -> BetRow | None:
        return next((b for b in self.bets.values() if b.bet_ref == bet_ref), None)


class SimWatcher:
    """Follows the simulator's request log (small) instead of its whole truth (large,
    and shared with the rest of the session): counts each of our bets' provider calls,
    and reads the wallet's ledger again whenever the wallet was called."""

    def __init__(self, sim: Callable[[str, str], Any], prefix: str) -> None:
        self.sim, self.prefix = sim, prefix
        self.since = time.time() - LOG_OVERLAP
        self.seen: set[tuple[float, str, str]] = set()
        self.status_queries: Counter[str] = Counter()
        self.cancels: Counter[str] = Counter()
        self.refunds: dict[str, dict[str, Any]] = {}

    def refresh(self) -> None:
        log = self.sim("GET", f"/_sim/log?since={self.since - LOG_OVERLAP!r}")["requests"]
        wallet_called = False
        for entry in log:
            key = (entry["t"], entry["method"], entry["path"])
            if key in self.seen:
                continue
            self.seen.add(key)
            self.since = max(self.since, entry["t"])
            wallet_called |= self._count(entry["method"], entry["path"])
        self.seen = {key for key in self.seen if key[0] > self.since - 2 * LOG_OVERLAP}
        if wallet_called:
            ledger = self.sim("GET", "/_sim/truth")["refunds"]
            self.refunds = {key: refund for key, refund in ledger.items()
                            if refund["bet_ref"].startswith(self.prefix)}

    def _count(self, method: str, path: str) -> bool:
        parts = [unquote(part) for part in path.strip("/").split("/")]
        if (method, path) == ("POST", "/refunds"):
            return True  # perhaps not ours: the ledger says whose
        if len(parts) >= 2 and parts[0] == "bets" and parts[1].startswith(self.prefix):
            if method == "GET" and len(parts) == 2:
                self.status_queries[parts[1]] += 1
            elif method == "POST" and parts[2:] == ["cancel"]:
                self.cancels[parts[1]] += 1
        return False


class Observer:
    """Reads the database and follows the simulator. Audit events are append-only, so
    only the ones written since the last look are read."""

    def __init__(self, db: Database, sim: SimWatcher) -> None:
        self.db, self.sim = db, sim
        self.events: dict[int, list[EventRow]] = defaultdict(list)
        self.last_event_id = 0

    def observe(self) -> Observation:
        self.sim.refresh()
        with self.db.unit_of_work() as session:
            bets = {row.id: BetRow(*row) for row in session.execute(select(
                Bet.id, Bet.provider, Bet.bet_ref, Bet.state, Bet.payout, Bet.version,
                Bet.deadline, Bet.next_check_at, Bet.check_attempt, Bet.duplicate_deliveries,
                Bet.final_at))}
            for event_id, bet_id, kind, actor, detail in session.execute(
                    select(AuditEvent.id, AuditEvent.bet_id, AuditEvent.kind, AuditEvent.actor,
                           AuditEvent.detail)
                    .where(AuditEvent.id > self.last_event_id).order_by(AuditEvent.id)):
                self.events[bet_id].append(EventRow(kind, actor, detail))
                self.last_event_id = event_id
            reviews: dict[int, list[ReviewRow]] = defaultdict(list)
            for review_id, bet_id, reason, resolved_at, detail in session.execute(
                    select(Review.id, Review.bet_id, Review.reason, Review.resolved_at,
                           Review.detail).order_by(Review.id)):
                reviews[bet_id].append(ReviewRow(review_id, reason, resolved_at is not None,
                                                 tuple(detail.get("facts", []))))
        sim = self.sim
        return Observation(bets, {b: list(e) for b, e in self.events.items()}, dict(reviews),
                           dict(sim.status_queries), dict(sim.cancels), dict(sim.refunds))
