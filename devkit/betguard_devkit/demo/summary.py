"""What became of the demo's bets, read from the database and checked against the
simulator's own truth."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from betguard.models.domain.states import FINAL_STATES, BetState
from betguard.models.store.db import Database
from betguard.models.store.tables import AuditEvent, Bet, Review
from betguard_devkit.audit import audit, ours
from betguard_devkit.demo.load import PlacedBet
from betguard_devkit.demo.scenarios import KINDS
from betguard_devkit.runrefs import RunRefs

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
    by_provider: dict[str, dict[str, int]]  # "name (kind of API)" -> bets per state
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
    refunds_of_settled_bets: int  # refunded, and the provider settled it too: paid twice
    dead_ends: int  # not final, with no next check a sweep takes and no open review
    duration_seconds: float
    report: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def ok(self) -> bool:
        return not (self.lost or self.payout_mismatches or self.double_refunds
                    or self.refunds_without_bet or self.refunds_of_settled_bets
                    or self.dead_ends)


def progress(db: Database, refs: RunRefs, seconds: float) -> Progress:
    mine = ours(Bet.bet_ref, refs.prefixes)
    with db.unit_of_work() as session:
        states = dict(session.execute(
            select(Bet.state, func.count()).where(mine).group_by(Bet.state)).all())
        kinds = dict(session.execute(
            select(AuditEvent.kind, func.count()).join(Bet, Bet.id == AuditEvent.bet_id)
            .where(mine, AuditEvent.kind.in_(["check_started", "provider_error"]))
            .group_by(AuditEvent.kind)).all())
    return Progress(seconds, states, kinds.get("check_started", 0), kinds.get("provider_error", 0))


def summarize(db: Database, refs: RunRefs, placed: list[PlacedBet], truth: dict[str, Any], *,
              scenario: str, duration: float, report: str) -> Summary:
    with db.unit_of_work() as session:
        rows = session.execute(
            select(Bet.bet_ref, Bet.provider, Bet.state, Bet.placed_at, Bet.final_at)
            .where(ours(Bet.bet_ref, refs.prefixes))).all()
        reasons = session.execute(
            select(Review.reason, func.count()).join(Bet, Bet.id == Review.bet_id)
            .where(ours(Bet.bet_ref, refs.prefixes)).group_by(Review.reason)).all()
        checked = audit(session, truth, now=datetime.now(UTC), slack=timedelta(0),
                        prefix=refs.prefixes)
    failures = {check.name: len(check.failures) for check in checked.checks}
    undecided = sum(1 for row in rows if row.state not in DECIDED)
    waits = sorted((r.final_at - r.placed_at).total_seconds() for r in rows if r.final_at)
    queries = sum(truth["bets"].get(b.bet_ref, {}).get("queries", 0) for b in placed)
    unreturned = sum(1 for b in placed if b.fate != "returned") or 1
    return Summary(
        scenario=scenario, bets=len(placed),
        states=dict(Counter(r.state for r in rows)), by_provider=_by_provider(rows),
        reviews={r: n for r, n in reasons},
        provider_queries=queries, provider_queries_per_bet=round(queries / max(len(placed), 1), 2),
        provider_queries_per_unreturned_bet=round(queries / unreturned, 2),
        seconds_to_final_p50=_quantile(waits, 0.5), seconds_to_final_p99=_quantile(waits, 0.99),
        lost=max(failures["nothing lost"], undecided + len(placed) - len(rows)),
        payout_mismatches=failures["payouts match the provider"],
        double_refunds=failures["one refund per refunded bet"] + failures["decided once"],
        refunds_without_bet=failures["no refund without a refunded bet"],
        refunds_of_settled_bets=failures["no refund of a bet the provider settled"],
        dead_ends=failures["no dead end"],
        duration_seconds=round(duration, 1), report=report,
    )


def _by_provider(rows: Sequence[Any]) -> dict[str, dict[str, int]]:
    found: dict[str, Counter[str]] = {}
    for row in rows:
        found.setdefault(f"{row.provider} ({KINDS.get(row.provider, '?')})", Counter())[
            row.state] += 1
    return {provider: dict(states) for provider, states in sorted(found.items())}


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 2)
    return round(statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1], 2)
