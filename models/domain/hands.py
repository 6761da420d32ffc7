"""A round recorded hand by hand, read as one bet: pure functions.

Some providers record a round as several records, one per hand: PG Soft's history has
one record per hand (``betId``) under the round's ``parentBetId``, and a round with free
spins has several, each with its own ``betAmount`` and ``winAmount``; ``handsStatus``
says whether a record is the round's last hand or was adjusted afterwards
(docs/providers/pgsoft.md). Read one by one, such a round would be settled on its
first hand's win, or sent to a person as rows that disagree.

:func:`fold` turns the hand rows of one bet into the round's one row:

* the round is final when its last hand is in, or a hand was adjusted: SETTLED, paying
  the sum of every hand's win, for the sum of every hand's stake, ended at the latest
  hand's end; until then PENDING (no payout);
* its ``version`` is the newest hand's (a new hand, or a hand changed, is a new state of
  the round), its ``row_id`` the first hand's (the oldest version), its ``hands`` how
  many records it stands for.

Rows it cannot read as one round are left as they are, so the rules for several rows
of one bet apply to them (rows that disagree go to a person, reconciliation reports a
duplicate): a round with more than one closing hand (two last hands: recorded as ended
twice; or a last hand and an adjusted one: which of them is the round's end is not
known), hands in different currencies, or hand rows mixed with whole-bet rows.

The feed lists records by version, so by the time a last hand is read the hands before
it have been read too (the provider writes a round's hands in order). A hand that came
later anyway changes the round's sum: reconciliation then finds its payout differs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Protocol, TypeVar

from betguard.models.domain.answers import Hand, ProviderStatus

_CLOSING = frozenset({Hand.LAST, Hand.ADJUSTED})


class HandRow(Protocol):
    """What folding needs of a row (``HistoryRow`` and reconciliation's ``ThereRow``)."""

    @property
    def row_id(self) -> str: ...
    @property
    def bet_ref(self) -> str: ...
    @property
    def version(self) -> int: ...
    @property
    def stake(self) -> Decimal | None: ...
    @property
    def payout(self) -> Decimal | None: ...
    @property
    def currency(self) -> str | None: ...
    @property
    def placed_at(self) -> datetime | None: ...
    @property
    def settled_at(self) -> datetime | None: ...
    @property
    def hand(self) -> str | None: ...
    @property
    def trace_id(self) -> str | None: ...


R = TypeVar("R", bound=HandRow)


def fold(rows: Sequence[R]) -> list[R]:
    """The rows of one bet, its hands folded into the round's one row (see the module)."""
    if not rows or any(row.hand is None for row in rows):
        return list(rows)
    hands = [Hand(row.hand) for row in rows if row.hand is not None]
    closing = sum(1 for hand in hands if hand in _CLOSING)
    if closing > 1 or len({row.currency for row in rows}) > 1:
        return list(rows)
    ordered = sorted(rows, key=lambda row: (row.version, row.row_id))  # first written first
    newest = ordered[-1]
    final = closing == 1
    stakes = [row.stake for row in rows if row.stake is not None]
    ends = [row.settled_at for row in rows if row.settled_at is not None]
    starts = [row.placed_at for row in rows if row.placed_at is not None]
    return [replace(  # type: ignore[type-var]  # both row kinds are dataclasses
        ordered[0],
        status=ProviderStatus.SETTLED if final else ProviderStatus.PENDING,
        version=newest.version,
        stake=None if len(stakes) < len(rows) else sum(stakes, start=Decimal("0")),
        payout=sum((row.payout or Decimal("0") for row in rows), start=Decimal("0"))
        if final else None,
        placed_at=min(starts) if starts else None,
        settled_at=max(ends) if final and ends else None,
        hand=None,
        hands=len(rows),
        trace_id=newest.trace_id,  # the call that brought the round's newest state
    )]


def fold_all(rows: Iterable[R]) -> list[R]:
    """:func:`fold` of every bet among ``rows`` (grouped by ``bet_ref``)."""
    by_ref: dict[str, list[R]] = defaultdict(list)
    for row in rows:
        by_ref[row.bet_ref].append(row)
    return [folded for ref in sorted(by_ref) for folded in fold(by_ref[ref])]
