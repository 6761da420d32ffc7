"""Loading both sides of a reconciliation: the bets and the provider's rows placed in a
window, each with its counterpart wherever that was placed, a round's bets as one
(``betguard.services.reconcile_compare.fold_round``) and a round's hands as one
(``betguard.models.domain.hands``)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from betguard.models.domain.hands import fold_all
from betguard.models.domain.states import BetState
from betguard.models.store.tables import Bet, ProviderRow
from betguard.services.reconcile_compare import (
    HereBet,
    ThereRow,
    fold_round,
)

_CHUNK = 500  # references per IN list


def load_sides(session: Session, provider: str, window_from: datetime,
               window_to: datetime) -> tuple[list[HereBet], list[ThereRow]]:
    """The bets and rows placed in the window, each with its counterpart wherever that
    was placed (two clocks: a bet's sides may straddle the window's edge)."""
    placed, shared = _bets_where(session, provider, [
        Bet.placed_at >= window_from, Bet.placed_at < window_to])
    bets = _rounds(placed)
    # A round of several bets is read whole, even its bets placed outside the window.
    for chunk in _chunks(sorted(shared)):
        bets.update(_rounds(_bets_where(session, provider, [Bet.round_ref.in_(chunk)])[0]))
    rows = {row.row_id: row for row in _rows_where(session, provider, [
        ProviderRow.placed_at >= window_from, ProviderRow.placed_at < window_to])}
    row_refs = {row.bet_ref for row in rows.values()}
    for chunk in _chunks(sorted(row_refs - set(bets))):
        bets.update(_rounds(_bets_where(session, provider, [Bet.round_ref.in_(chunk)])[0]))
    for chunk in _chunks(sorted(set(bets) - row_refs)):
        rows.update((row.row_id, row) for row in
                    _rows_where(session, provider, [ProviderRow.bet_ref.in_(chunk)]))
    # Every row of a reference in the window, even one of its rows placed elsewhere.
    for chunk in _chunks(sorted(row_refs)):
        rows.update((row.row_id, row) for row in
                    _rows_where(session, provider, [ProviderRow.bet_ref.in_(chunk)]))
    # A round recorded hand by hand is one bet: its hands are no duplicates.
    return list(bets.values()), fold_all(rows.values())


def _rounds(bets: Iterable[HereBet]) -> dict[str, HereBet]:
    """The bets by their round (the name the rows give them), a round's bets as one
    (``fold_round``)."""
    by_round: dict[str, list[HereBet]] = {}
    for bet in bets:
        by_round.setdefault(bet.bet_ref, []).append(bet)
    return {ref: fold_round(found) for ref, found in by_round.items()}


def _bets_where(session: Session, provider: str,
                where: list[Any]) -> tuple[list[HereBet], set[str]]:
    """The bets, each named by its round (``round_ref``), and the rounds among them that
    are not a bet of their own (a round of a provider that names rounds may hold more)."""
    query = select(Bet.id, Bet.bet_ref, Bet.round_ref, Bet.state, Bet.stake, Bet.payout,
                   Bet.currency, Bet.placed_at, Bet.final_at, Bet.updated_at).where(
        Bet.provider == provider, *where)
    found, shared = [], set()
    for bet_id, ref, round_ref, state, stake, payout, currency, placed_at, final_at, \
            updated in session.execute(query):
        decided = final_at if final_at is not None else (
            updated if state == BetState.REFUND_PENDING.value else None)
        found.append(HereBet(bet_id, round_ref, state, stake, payout, currency, placed_at,
                             decided))
        if round_ref != ref:
            shared.add(round_ref)
    return found, shared


def _rows_where(session: Session, provider: str, where: list[Any]) -> list[ThereRow]:
    query = select(ProviderRow.row_id, ProviderRow.bet_ref, ProviderRow.status,
                   ProviderRow.version, ProviderRow.stake, ProviderRow.payout,
                   ProviderRow.currency, ProviderRow.placed_at, ProviderRow.settled_at,
                   ProviderRow.hand, ProviderRow.trace_id).where(
        ProviderRow.provider == provider, *where)
    return [ThereRow(*row) for row in session.execute(query)]


def _chunks(refs: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(refs), _CHUNK):
        yield refs[start:start + _CHUNK]


def left_out(session: Session, provider: str, end: datetime,
              window_to: datetime) -> tuple[int, int]:
    """Bets and rows placed between the horizon and the window's end: not compared."""
    if end >= window_to:
        return 0, 0
    here = session.scalar(select(func.count()).select_from(Bet).where(
        Bet.provider == provider, Bet.placed_at >= end, Bet.placed_at < window_to))
    there = session.scalar(select(func.count()).select_from(ProviderRow).where(
        ProviderRow.provider == provider, ProviderRow.placed_at >= end,
        ProviderRow.placed_at < window_to))
    return int(here or 0), int(there or 0)
