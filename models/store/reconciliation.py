"""Reconciliation as stored: both sides of a window as the comparison reads them (the
bets and the mirrored provider rows), the feed cursors that bound it and serialize its
runs, the runs, and the differences it found."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import func, select, update

from betguard.models.store.bet_queries import chunks
from betguard.models.store.db import Session
from betguard.models.store.tables import (
    Bet,
    FeedCursor,
    ProviderRow,
    ReconciliationDifference,
    ReconciliationRun,
)


class BetSide(NamedTuple):
    """betguard's side of a bet, as the comparison reads it."""

    id: int
    bet_ref: str
    round_ref: str
    state: str
    stake: Decimal
    payout: Decimal | None
    currency: str
    placed_at: datetime
    final_at: datetime | None
    updated_at: datetime


class RowSide(NamedTuple):
    """The provider's side: one mirrored history row, its newest version."""

    row_id: str
    bet_ref: str
    status: str
    version: int
    stake: Decimal | None
    payout: Decimal | None
    currency: str | None
    placed_at: datetime | None
    settled_at: datetime | None
    hand: str | None
    trace_id: str | None


_BET_SIDE = (Bet.id, Bet.bet_ref, Bet.round_ref, Bet.state, Bet.stake, Bet.payout,
             Bet.currency, Bet.placed_at, Bet.final_at, Bet.updated_at)
_ROW_SIDE = (ProviderRow.row_id, ProviderRow.bet_ref, ProviderRow.status,
             ProviderRow.version, ProviderRow.stake, ProviderRow.payout,
             ProviderRow.currency, ProviderRow.placed_at, ProviderRow.settled_at,
             ProviderRow.hand, ProviderRow.trace_id)


# -- the two sides -----------------------------------------------------------------------

def bets_placed_between(session: Session, provider: str, start: datetime,
                        end: datetime) -> list[BetSide]:
    return _bets(session, provider, Bet.placed_at >= start, Bet.placed_at < end)


def bets_of_rounds(session: Session, provider: str, round_refs: Sequence[str]) -> list[BetSide]:
    return [bet for chunk in chunks(round_refs)
            for bet in _bets(session, provider, Bet.round_ref.in_(chunk))]


def rows_placed_between(session: Session, provider: str, start: datetime,
                        end: datetime) -> list[RowSide]:
    return _rows(session, provider, ProviderRow.placed_at >= start, ProviderRow.placed_at < end)


def rows_of_refs(session: Session, provider: str, bet_refs: Sequence[str]) -> list[RowSide]:
    return [row for chunk in chunks(bet_refs)
            for row in _rows(session, provider, ProviderRow.bet_ref.in_(chunk))]


def placed_between_counts(session: Session, provider: str, start: datetime,
                          end: datetime) -> tuple[int, int]:
    """How many bets, and how many provider rows, were placed in [start, end)."""
    here = session.scalar(select(func.count()).select_from(Bet).where(
        Bet.provider == provider, Bet.placed_at >= start, Bet.placed_at < end))
    there = session.scalar(select(func.count()).select_from(ProviderRow).where(
        ProviderRow.provider == provider, ProviderRow.placed_at >= start,
        ProviderRow.placed_at < end))
    return int(here or 0), int(there or 0)


def _bets(session: Session, provider: str, *where: Any) -> list[BetSide]:
    query = select(*_BET_SIDE).where(Bet.provider == provider, *where)
    return [BetSide._make(row) for row in session.execute(query)]


def _rows(session: Session, provider: str, *where: Any) -> list[RowSide]:
    query = select(*_ROW_SIDE).where(ProviderRow.provider == provider, *where)
    return [RowSide._make(row) for row in session.execute(query)]


# -- the feed cursors and the runs -------------------------------------------------------

def lock_cursors(session: Session, provider: str) -> None:
    """Lock the provider's feed cursors until the caller's commit (runs of one provider
    take turns storing what they found)."""
    session.execute(select(FeedCursor.feed).where(FeedCursor.provider == provider)
                    .with_for_update())


def last_successes(session: Session, provider: str, *,
                   skip_locked: bool = False) -> dict[str, datetime | None]:
    """Each feed's last successful pull; with ``skip_locked``, the cursors are locked
    until the caller's commit and one another transaction holds is left out."""
    query = select(FeedCursor.feed, FeedCursor.last_success_at).where(
        FeedCursor.provider == provider)
    if skip_locked:
        query = query.with_for_update(skip_locked=True)
    return {feed: at for feed, at in session.execute(query)}


def last_run(session: Session, provider: str, mode: str) -> ReconciliationRun | None:
    """The provider's latest run of ``mode``, by when it started."""
    return session.scalars(
        select(ReconciliationRun)
        .where(ReconciliationRun.provider == provider, ReconciliationRun.mode == mode)
        .order_by(ReconciliationRun.started_at.desc()).limit(1)).first()


# -- the differences ---------------------------------------------------------------------

def differences_like(session: Session, provider: str, bet_ref: str,
                     kind: str) -> list[ReconciliationDifference]:
    """Every difference stored of this (provider, bet, kind), newest first."""
    return list(session.scalars(
        select(ReconciliationDifference)
        .where(ReconciliationDifference.provider == provider,
               ReconciliationDifference.bet_ref == bet_ref,
               ReconciliationDifference.kind == kind)
        .order_by(ReconciliationDifference.id.desc())))


def close_differences(session: Session, ids: Sequence[int], *, resolution: str,
                      operator: str, note: str, now: datetime) -> None:
    """Close the open differences among ``ids`` with one resolution."""
    session.execute(update(ReconciliationDifference)
                    .where(ReconciliationDifference.id.in_(ids),
                           ReconciliationDifference.resolved_at.is_(None))
                    .values(resolved_at=now, resolution=resolution[:20], operator=operator,
                            note=note))
