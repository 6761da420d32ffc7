"""What became of the demo's bets, read from the database and checked against the
simulator's own truth."""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from betguard.demo.load import PlacedBet
from models.db import Database
from models.states import FINAL_STATES, BetState
from models.tables import AuditEvent, Bet, Review

DECIDED = {s.value for s in FINAL_STATES} | {BetState.IN_REVIEW.value}


@dataclass(frozen=True)
class Progress:
    seconds: float
    states: dict[str, int]
    checks: int
    provider_errors: int

    @property
    def open_bets(self) -> int:
        return sum(n for state, n in self.states.items() if state not in DECIDED)


@dataclass(frozen=True)
class Summary:
    scenario: str
    bets: int
    states: dict[str, int]
    reviews: dict[str, int]
    provider_queries: int
    provider_queries_per_bet: float
    provider_queries_per_unreturned_bet: float
    seconds_to_final_p50: float | None
    seconds_to_final_p99: float | None
    lost: int
    payout_mismatches: int
    double_refunds: int
    refunds_without_bet: int
    duration_seconds: float
    report: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def ok(self) -> bool:
        return not (self.lost or self.payout_mismatches or self.double_refunds
                    or self.refunds_without_bet)


def progress(db: Database, run_id: str, seconds: float) -> Progress:
    mine = Bet.bet_ref.like(f"{run_id}-%")
    with db.unit_of_work() as session:
        states = dict(session.execute(
            select(Bet.state, func.count()).where(mine).group_by(Bet.state)).tuples().all())
        kinds = dict(session.execute(
            select(AuditEvent.kind, func.count()).join(Bet, Bet.id == AuditEvent.bet_id)
            .where(mine, AuditEvent.kind.in_(["check_started", "provider_error"]))
            .group_by(AuditEvent.kind)).tuples().all())
    return Progress(seconds, states, kinds.get("check_started", 0), kinds.get("provider_error", 0))


def summarize(db: Database, run_id: str, placed: list[PlacedBet], truth: dict[str, Any], *,
              scenario: str, duration: float, report: str) -> Summary:
    with db.unit_of_work() as session:
        rows = session.execute(
            select(Bet.bet_ref, Bet.state, Bet.payout, Bet.placed_at, Bet.final_at)
            .where(Bet.bet_ref.like(f"{run_id}-%"))).all()
        reasons = session.execute(
            select(Review.reason, func.count()).join(Bet, Bet.id == Review.bet_id)
            .where(Bet.bet_ref.like(f"{run_id}-%")).group_by(Review.reason)).tuples().all()
    by_ref = {row.bet_ref: row for row in rows}
    lost = sum(1 for b in placed if b.bet_ref not in by_ref
               or by_ref[b.bet_ref].state not in DECIDED)
    waits = sorted((r.final_at - r.placed_at).total_seconds() for r in rows if r.final_at)
    queries = sum(truth["bets"].get(b.bet_ref, {}).get("queries", 0) for b in placed)
    unreturned = sum(1 for b in placed if b.fate != "returned") or 1
    return Summary(
        scenario=scenario, bets=len(placed),
        states=dict(Counter(r.state for r in rows)), reviews=dict(reasons),
        provider_queries=queries, provider_queries_per_bet=round(queries / max(len(placed), 1), 2),
        provider_queries_per_unreturned_bet=round(queries / unreturned, 2),
        seconds_to_final_p50=_quantile(waits, 0.5), seconds_to_final_p99=_quantile(waits, 0.99),
        lost=lost, payout_mismatches=_payout_mismatches(by_ref, truth),
        double_refunds=_double_refunds(truth, set(by_ref)),
        refunds_without_bet=_refunds_without_bet(by_ref, truth),
        duration_seconds=round(duration, 1), report=report,
    )


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 2)
    return round(statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1], 2)


def _payout_mismatches(by_ref: dict[str, Any], truth: dict[str, Any]) -> int:
    """Settled bets whose payout differs from what the provider decided."""
    mismatches = 0
    for ref, row in by_ref.items():
        fact = truth["bets"].get(ref, {})
        if row.state == BetState.SETTLED.value and fact.get("payout") is not None:
            mismatches += Decimal(fact["payout"]) != row.payout
    return mismatches


def _double_refunds(truth: dict[str, Any], refs: set[str]) -> int:
    refunded = Counter(r["bet_ref"] for r in truth["refunds"].values() if r["bet_ref"] in refs)
    return sum(1 for n in refunded.values() if n > 1)


def _refunds_without_bet(by_ref: dict[str, Any], truth: dict[str, Any]) -> int:
    """Money the wallet paid back for a bet betguard does not count as refunded."""
    return sum(1 for r in truth["refunds"].values()
               if r["bet_ref"] in by_ref and by_ref[r["bet_ref"]].state not in
               (BetState.REFUNDED.value, BetState.REFUND_PENDING.value))
