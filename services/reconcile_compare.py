"""Comparing a provider's history with betguard's record of its bets: pure functions.

Both sides are plain records (``HereBet``, ``ThereRow``) already loaded for one
provider; nothing here reads the database or the clock, so every rule is unit tested.

Time is the trap. A feed shows a bet up to ``feed_lag`` late, so the mirror is only
complete up to the *horizon* (the feed's last successful pull minus ``feed_lag``):
what happened after it may simply not have shown yet. The caller clips the window to
the horizon; here, a row still pending while betguard's bet became final after the
horizon, a result there newer than the horizon for a bet betguard still waits on, and
a bet betguard still waits on placed within ``feed_lag`` of the horizon, are "not yet"
rather than differences.

Kinds of difference:

* ``missing_here``: the provider has a bet betguard lacks (a cancelled one is not
  counted: the provider gave the stake back and nothing is owed either way);
* ``missing_there``: betguard has a bet the provider lacks (not when betguard refunded
  it: the stake came back and the provider never took it);
* ``payout_differs``: both settled, with different payouts or currencies;
* ``state_differs``: one side final and the other not, or final in different ways;
* ``duplicate``: two or more distinct provider rows (``row_id``) for one bet.

The summary-first mode, which narrows days to hours before comparing rows, is
``betguard.services.reconcile_summary``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from betguard.models.domain.money import wire_amount
from betguard.models.domain.states import BetState


class Kind(StrEnum):
    MISSING_HERE = "missing_here"
    MISSING_THERE = "missing_there"
    PAYOUT_DIFFERS = "payout_differs"
    STATE_DIFFERS = "state_differs"
    DUPLICATE = "duplicate"


# The provider's row statuses (betguard.providers.base.ProviderStatus values a feed row carries).
PENDING, SETTLED, CANCELLED = "pending", "settled", "cancelled"


FINAL_THERE = frozenset({SETTLED, CANCELLED})


# betguard's states, as the comparison sees them.
OPEN_HERE = frozenset({BetState.PENDING.value, BetState.IN_REVIEW.value})


REFUND_HERE = frozenset({BetState.REFUND_PENDING.value, BetState.REFUNDED.value})


# The bets of one round ended in different ways (or currencies) here.
MIXED = "mixed"


@dataclass(frozen=True)
class HereBet:
    """betguard's record of one bet, by the name the provider's rows give it (the bet's
    ``round_ref``). ``final_at``: when it became final (for a refund_pending bet, when
    the refund was decided); None while open. The bets of one round are given as one
    (:func:`fold_round`: ``bets`` says how many, ``bet_id`` is the first's)."""

    bet_id: int
    bet_ref: str
    state: str
    stake: Decimal
    payout: Decimal | None
    currency: str
    placed_at: datetime
    final_at: datetime | None = None
    bets: int = 1

    def facts(self) -> dict[str, Any]:
        return {"bet_id": self.bet_id, "bet_ref": self.bet_ref, "state": self.state,
                "stake": wire_amount(self.stake), "payout": _amount(self.payout),
                "currency": self.currency, "placed_at": self.placed_at.isoformat(),
                "final_at": _moment(self.final_at),
                **({} if self.bets == 1 else {"bets": self.bets})}


def fold_round(bets: Sequence[HereBet]) -> HereBet:
    """The bets of one round (a provider that names rounds, not bets) as the one record
    its rows are compared with: stakes and payouts summed, its state theirs when they all
    agree, an open one's while any is open (the round is still waited on), else
    :data:`MIXED` (a round ends one way at the provider: that is a difference)."""
    if len(bets) == 1:
        return bets[0]
    ordered = sorted(bets, key=lambda bet: bet.bet_id)
    states = {bet.state for bet in ordered}
    open_ones = [bet for bet in ordered if bet.state in OPEN_HERE]
    if len(states) == 1:
        state = ordered[0].state
    elif open_ones:
        state = open_ones[0].state
    else:
        state = MIXED
    payouts = [bet.payout for bet in ordered]
    finals = [bet.final_at for bet in ordered]
    currencies = {bet.currency for bet in ordered}
    return HereBet(
        bet_id=ordered[0].bet_id, bet_ref=ordered[0].bet_ref,
        state=state if len(currencies) == 1 else MIXED,
        stake=sum((bet.stake for bet in ordered), Decimal("0")),
        payout=None if None in payouts else sum((p for p in payouts if p is not None),
                                                Decimal("0")),
        currency=ordered[0].currency, placed_at=min(bet.placed_at for bet in ordered),
        final_at=None if open_ones or None in finals else max(f for f in finals if f),
        bets=len(ordered))


@dataclass(frozen=True)
class ThereRow:
    """One row of the provider's history, as the mirror holds it (its newest version);
    the hands of a round are given folded into the round's row (``hands``: how many
    records it stands for; ``betguard.models.domain.hands``)."""

    row_id: str
    bet_ref: str
    status: str
    version: int
    stake: Decimal | None
    payout: Decimal | None
    currency: str | None
    placed_at: datetime | None
    settled_at: datetime | None
    hand: str | None = None
    hands: int = 1
    trace_id: str | None = None

    def facts(self) -> dict[str, Any]:
        return {"row_id": self.row_id, "bet_ref": self.bet_ref, "status": str(self.status),
                "version": self.version, "stake": _amount(self.stake),
                "payout": _amount(self.payout), "currency": self.currency,
                "placed_at": _moment(self.placed_at), "settled_at": _moment(self.settled_at),
                **({} if self.hands == 1 else {"hands": self.hands})}


@dataclass(frozen=True)
class Difference:
    kind: Kind
    bet_ref: str
    here: HereBet | None
    there: tuple[ThereRow, ...]
    why: str

    @property
    def bet_id(self) -> int | None:
        return None if self.here is None else self.here.bet_id

    def here_facts(self) -> dict[str, Any]:
        return {} if self.here is None else self.here.facts()

    def there_facts(self) -> dict[str, Any]:
        return {"rows": [row.facts() for row in self.there]}


@dataclass(frozen=True)
class Comparison:
    """What one comparison found, and what it left for later (``not_yet``: pairs whose
    difference may only be the feed's lag)."""

    differences: list[Difference]
    compared_here: int
    compared_there: int
    not_yet: int = 0


def compare(here: Iterable[HereBet], there: Iterable[ThereRow], *, horizon: datetime,
            feed_lag: timedelta) -> Comparison:
    """Every difference between ``here`` and ``there``, matched by ``bet_ref``.

    Give both sides complete per reference: every row of a reference whose bet is
    given, and the bet of every reference whose rows are given (if betguard has it).
    """
    bets = {bet.bet_ref: bet for bet in here}
    rows: dict[str, list[ThereRow]] = defaultdict(list)
    for row in there:
        rows[row.bet_ref].append(row)
    found: list[Difference] = []
    not_yet = 0
    for ref in sorted(set(bets) | set(rows)):
        differences, waits = _compare_one(bets.get(ref), rows.get(ref, []), horizon, feed_lag)
        found.extend(differences)
        not_yet += waits
    return Comparison(found, len(bets), sum(len(r) for r in rows.values()), not_yet)


def _compare_one(bet: HereBet | None, rows: list[ThereRow], horizon: datetime,
                 feed_lag: timedelta) -> tuple[list[Difference], int]:
    rows = sorted(rows, key=lambda row: row.row_id)
    found: list[Difference] = []
    if len({row.row_id for row in rows}) > 1:
        found.append(Difference(Kind.DUPLICATE, rows[0].bet_ref, bet, tuple(rows),
                                f"{len(rows)} provider rows for one bet"))
    if bet is None:
        if any(row.status != CANCELLED for row in rows):
            found.append(Difference(Kind.MISSING_HERE, rows[0].bet_ref, None, tuple(rows),
                                    "the provider has a bet betguard lacks"))
        return found, 0
    if not rows:
        return _missing_there(bet, horizon, feed_lag)
    row = _primary(bet, rows)
    problem = _disagreement(bet, row)
    if problem is None:
        return found, 0
    kind, why = problem
    if row.status == PENDING and (bet.final_at is None or bet.final_at > horizon):
        return found, 1  # the provider's change may not have shown in the feed yet
    if bet.state in OPEN_HERE and row.settled_at is not None and row.settled_at > horizon:
        return found, 1  # the result is newer than the horizon: the check may not know it yet
    found.append(Difference(kind, bet.bet_ref, bet, tuple(rows), why))
    return found, 0


def _missing_there(bet: HereBet, horizon: datetime,
                   feed_lag: timedelta) -> tuple[list[Difference], int]:
    if bet.state in REFUND_HERE:
        return [], 0  # the stake came back and the provider never took it
    if bet.state in OPEN_HERE and bet.placed_at >= horizon - feed_lag:
        return [], 1  # still waited on, and recent enough to show late
    why = f"betguard has a {bet.state} bet the provider's history lacks"
    return [Difference(Kind.MISSING_THERE, bet.bet_ref, bet, (), why)], 0


def agrees(bet: HereBet, rows: Sequence[ThereRow]) -> bool:
    """Whether one of the provider's rows agrees with the bet as given."""
    return any(_disagreement(bet, row) is None for row in rows)


def _primary(bet: HereBet, rows: list[ThereRow]) -> ThereRow:
    """The row to compare the bet with: one that agrees with it if any (the others are
    the duplicate), else the newest."""
    for row in rows:
        if _disagreement(bet, row) is None:
            return row
    return max(rows, key=lambda row: (row.version, row.row_id))


def _disagreement(bet: HereBet, row: ThereRow) -> tuple[Kind, str] | None:
    here, there = bet.state, row.status
    if here == MIXED:
        return (Kind.STATE_DIFFERS,
                f"the round's {bet.bets} bets ended in different ways here, {there} at the "
                "provider")
    if here in OPEN_HERE:
        if there in FINAL_THERE:
            return Kind.STATE_DIFFERS, f"{here} here, {there} at the provider"
        return None
    if there == PENDING:
        return Kind.STATE_DIFFERS, f"{here} here, still pending at the provider"
    if here in REFUND_HERE:
        if there == SETTLED:
            return Kind.STATE_DIFFERS, f"{here} here, settled at the provider"
        return None
    if there == CANCELLED:
        return Kind.STATE_DIFFERS, "settled here, cancelled at the provider"
    currency_differs = row.currency is not None and row.currency != bet.currency
    if row.payout != bet.payout or currency_differs:
        return (Kind.PAYOUT_DIFFERS,
                f"paid {_amount(bet.payout)} {bet.currency} here, "
                f"{_amount(row.payout)} {row.currency or bet.currency} at the provider")
    return None


def _amount(value: Decimal | None) -> str | None:
    return None if value is None else wire_amount(value)


def _moment(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
