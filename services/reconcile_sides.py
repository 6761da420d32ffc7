"""Loading both sides of a reconciliation: the bets and the provider's rows placed in a
window, each with its counterpart wherever that was placed, a round's bets as one
(``betguard.services.reconcile_compare.fold_round``) and a round's hands as one
(``betguard.models.domain.hands``)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from betguard.models.domain.hands import fold_all
from betguard.models.domain.states import BetState
from betguard.models.store import reconciliation as stored
from betguard.models.store.db import Session
from betguard.models.store.reconciliation import BetSide, RowSide
from betguard.services.reconcile_compare import (
    HereBet,
    ThereRow,
    fold_round,
)


def load_sides(session: Session, provider: str, window_from: datetime,
               window_to: datetime) -> tuple[list[HereBet], list[ThereRow]]:
    """The bets and rows placed in the window, each with its counterpart wherever that
    was placed (two clocks: a bet's sides may straddle the window's edge)."""
    placed = stored.bets_placed_between(session, provider, window_from, window_to)
    bets = _rounds(placed)
    # A round of several bets is read whole, even its bets placed outside the window.
    shared = sorted({bet.round_ref for bet in placed if bet.round_ref != bet.bet_ref})
    bets.update(_rounds(stored.bets_of_rounds(session, provider, shared)))
    rows = {row.row_id: _as_there_row(row) for row in
            stored.rows_placed_between(session, provider, window_from, window_to)}
    row_refs = {row.bet_ref for row in rows.values()}
    bets.update(_rounds(stored.bets_of_rounds(session, provider, sorted(row_refs - set(bets)))))
    # Every row of a bet in the window, and of a reference in it, even one placed elsewhere.
    for ref_rows in (sorted(set(bets) - row_refs), sorted(row_refs)):
        rows.update((row.row_id, _as_there_row(row))
                    for row in stored.rows_of_refs(session, provider, ref_rows))
    # A round recorded hand by hand is one bet: its hands are no duplicates.
    return list(bets.values()), fold_all(rows.values())


def _rounds(bets: Iterable[BetSide]) -> dict[str, HereBet]:
    """The bets by their round (the name the rows give them), a round's bets as one
    (``fold_round``)."""
    by_round: dict[str, list[HereBet]] = {}
    for bet in bets:
        by_round.setdefault(bet.round_ref, []).append(_as_here_bet(bet))
    return {ref: fold_round(found) for ref, found in by_round.items()}


def _as_here_bet(bet: BetSide) -> HereBet:
    """The bet named by its round; a refund_pending bet's refund was decided when it
    last changed."""
    decided = bet.final_at if bet.final_at is not None else (
        bet.updated_at if bet.state == BetState.REFUND_PENDING.value else None)
    return HereBet(bet.id, bet.round_ref, bet.state, bet.stake, bet.payout, bet.currency,
                   bet.placed_at, decided)


def _as_there_row(row: RowSide) -> ThereRow:
    """The row as one record (``hands`` is 1 until :func:`fold_all` folds a round's)."""
    return ThereRow(row.row_id, row.bet_ref, row.status, row.version, row.stake, row.payout,
                    row.currency, row.placed_at, row.settled_at, hand=row.hand,
                    trace_id=row.trace_id)


def left_out(session: Session, provider: str, end: datetime,
             window_to: datetime) -> tuple[int, int]:
    """Bets and rows placed between the horizon and the window's end: not compared."""
    if end >= window_to:
        return 0, 0
    return stored.placed_between_counts(session, provider, end, window_to)
