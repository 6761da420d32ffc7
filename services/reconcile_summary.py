"""Reconciliation summary first: each side's totals per day, the days that differ
narrowed to hours, and rows compared only in the hours that differ (pure functions; the
row comparison is ``betguard.services.reconcile_compare``)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from betguard.models.domain.money import wire_amount
from betguard.models.domain.states import BetState
from betguard.services.reconcile_compare import (
    CANCELLED,
    PENDING,
    SETTLED,
    Comparison,
    HereBet,
    ThereRow,
    compare,
)


@dataclass
class Totals:
    """One side's figures over a period: what the summary compares."""

    count: int = 0
    stake: Decimal = Decimal("0")
    payout: Decimal = Decimal("0")
    settled: int = 0
    cancelled: int = 0
    currencies: frozenset[str] = frozenset()
    # The sum of a digest of each bet's reference and outcome: two differences that
    # cancel out in the sums (a bet missing on each side, two payouts off by the same
    # amount) still leave the period different.
    digest: int = 0

    def add(self, ref: str, stake: Decimal | None, payout: Decimal | None, status: str,
            currency: str | None) -> None:
        self.count += 1
        self.stake += stake or Decimal("0")
        self.payout += payout or Decimal("0")
        self.settled += status == SETTLED
        self.cancelled += status == CANCELLED
        if currency is not None:
            self.currencies = self.currencies | {currency}
        self.digest = (self.digest + _digest(ref, status, payout, currency)) % _DIGEST_MOD

    def as_json(self) -> dict[str, Any]:
        return {"count": self.count, "stake": wire_amount(self.stake),
                "payout": wire_amount(self.payout), "settled": self.settled,
                "cancelled": self.cancelled, "currencies": sorted(self.currencies),
                "digest": f"{self.digest:016x}"}


_DIGEST_MOD = 2**64


def _digest(ref: str, status: str, payout: Decimal | None, currency: str | None) -> int:
    paid = "" if payout is None else wire_amount(payout)
    text = "\x1f".join((ref, status, paid, currency or ""))
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


@dataclass(frozen=True)
class PeriodTotals:
    """Both sides' totals over one day or hour, and whether they differ."""

    start: datetime
    unit: str  # "day" or "hour"
    here: Totals
    there: Totals

    @property
    def differs(self) -> bool:
        return self.here != self.there

    def as_json(self) -> dict[str, Any]:
        return {"start": self.start.isoformat(), "unit": self.unit, "differs": self.differs,
                "here": self.here.as_json(), "there": self.there.as_json()}


@dataclass(frozen=True)
class SummaryComparison:
    comparison: Comparison
    totals: list[PeriodTotals] = field(default_factory=list)


_HERE_STATUS = {BetState.SETTLED.value: SETTLED, BetState.REFUNDED.value: CANCELLED,
                BetState.REFUND_PENDING.value: CANCELLED}


def compare_summary(here: Sequence[HereBet], there: Sequence[ThereRow], *,
                    window_from: datetime, window_to: datetime, horizon: datetime,
                    feed_lag: timedelta) -> SummaryComparison:
    """Totals per day on both sides over the window; the days that differ narrowed to
    hours, and only the hours that differ compared row by row.

    Each side is bucketed by its own placement time; a reference in a bucket that
    differs is compared with all of its rows and its bet, wherever they fall, so a bet
    whose two sides straddle a boundary is still one pair. Totals include the count of
    settled and cancelled bets and a digest of every reference and outcome, so a state
    change that moves no money, or two differences that cancel out, still show.
    """
    days = _totals(here, there, window_from, window_to, _day)
    totals = [days[start] for start in sorted(days)]
    suspect_days = {start for start, period in days.items() if period.differs}
    hours = _totals([b for b in here if _day(b.placed_at) in suspect_days],
                    [r for r in there if r.placed_at and _day(r.placed_at) in suspect_days],
                    window_from, window_to, _hour)
    totals.extend(hours[start] for start in sorted(hours))
    suspect = {start for start, period in hours.items() if period.differs}
    refs = {b.bet_ref for b in here if _in(b.placed_at, window_from, window_to)
            and _hour(b.placed_at) in suspect}
    refs |= {r.bet_ref for r in there if r.placed_at is not None
             and _in(r.placed_at, window_from, window_to) and _hour(r.placed_at) in suspect}
    comparison = compare([b for b in here if b.bet_ref in refs],
                         [r for r in there if r.bet_ref in refs],
                         horizon=horizon, feed_lag=feed_lag)
    return SummaryComparison(comparison, totals)


def _totals(here: Iterable[HereBet], there: Iterable[ThereRow], window_from: datetime,
            window_to: datetime, bucket: Callable[[datetime], datetime]
            ) -> dict[datetime, PeriodTotals]:
    unit = "day" if bucket is _day else "hour"
    periods: dict[datetime, PeriodTotals] = {}

    def period(at: datetime) -> PeriodTotals:
        start = bucket(at)
        if start not in periods:
            periods[start] = PeriodTotals(start, unit, Totals(), Totals())
        return periods[start]

    for bet in here:
        if _in(bet.placed_at, window_from, window_to):
            status = _HERE_STATUS.get(bet.state, PENDING)
            payout = bet.payout if status == SETTLED else None
            period(bet.placed_at).here.add(bet.bet_ref, bet.stake, payout, status, bet.currency)
    for row in there:
        if row.placed_at is not None and _in(row.placed_at, window_from, window_to):
            payout = row.payout if row.status == SETTLED else None
            period(row.placed_at).there.add(row.bet_ref, row.stake, payout, row.status,
                                            row.currency)
    return periods


def _in(at: datetime, start: datetime, end: datetime) -> bool:
    return start <= at < end


def _day(at: datetime) -> datetime:
    return at.replace(hour=0, minute=0, second=0, microsecond=0)


def _hour(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)
