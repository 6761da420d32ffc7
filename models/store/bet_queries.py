"""Named reads of bets by what a use case knows of them: their references, their
round, their game. Each is one statement (or one per chunk of references); services ask
these instead of writing SQL."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import func, select, tuple_

from betguard.models.domain.events import EventKind
from betguard.models.domain.snapshot import BetSnapshot
from betguard.models.domain.states import FINAL_STATES, BetState
from betguard.models.store.db import Connection, Session
from betguard.models.store.repository import BETS, EVENTS, SNAPSHOT_COLUMNS
from betguard.models.store.tables import Bet

CHUNK = 500  # references per IN list
OPEN_STATES = tuple(state.value for state in BetState if state not in FINAL_STATES)


def chunks(refs: Sequence[str]) -> Iterable[list[str]]:
    """``refs`` in lists short enough for one IN clause each."""
    for start in range(0, len(refs), CHUNK):
        yield list(refs[start:start + CHUNK])


def snapshots_by_keys(connection: Connection, keys: Sequence[tuple[str, str]],
                      ) -> dict[tuple[str, str], BetSnapshot]:
    """The bets that exist among ``keys`` (provider, bet_ref), by their key."""
    if not keys:
        return {}
    found = connection.execute(
        select(*SNAPSHOT_COLUMNS).where(BETS.c.bet_ref.in_([ref for _, ref in keys]),
                                        tuple_(BETS.c.provider, BETS.c.bet_ref).in_(keys))
    ).mappings().all()
    return {(row["provider"], row["bet_ref"]): BetSnapshot.of_row(row) for row in found}


def created_at_by_keys(connection: Connection, keys: Sequence[tuple[str, str]],
                      ) -> dict[tuple[str, str], datetime]:
    """When each of the bets among ``keys`` was stored (its row's ``created_at``)."""
    found = connection.execute(
        select(BETS.c.provider, BETS.c.bet_ref, BETS.c.created_at)
        .where(BETS.c.bet_ref.in_([ref for _, ref in keys]),
               tuple_(BETS.c.provider, BETS.c.bet_ref).in_(keys))
    ).all()
    return {(provider, ref): at for provider, ref, at in found}


def waiting_of_rounds(connection: Connection, provider: str, round_refs: Sequence[str],
                      now: datetime) -> list[tuple[int, int, str]]:
    """(id, check_attempt, bet_ref) of the pending bets of ``round_refs`` whose next check
    is ahead and not a claimed check's lease (whose latest event is then its
    ``check_started``)."""
    waiting: list[tuple[int, int, str]] = []
    for chunk in chunks(round_refs):
        rows = connection.execute(
            select(BETS.c.id, BETS.c.check_attempt, BETS.c.bet_ref)
            .where(BETS.c.provider == provider, BETS.c.round_ref.in_(chunk),
                   BETS.c.state == BetState.PENDING.value, BETS.c.next_check_at > now)).all()
        if not rows:
            continue
        latest = select(func.max(EVENTS.c.id)).where(
            EVENTS.c.bet_id.in_([row[0] for row in rows])).group_by(EVENTS.c.bet_id)
        in_flight = set(connection.scalars(
            select(EVENTS.c.bet_id).where(EVENTS.c.id.in_(latest.scalar_subquery()),
                                          EVENTS.c.kind == EventKind.CHECK_STARTED.value)))
        waiting += [(bet_id, attempt, ref) for bet_id, attempt, ref in rows
                    if bet_id not in in_flight]
    return waiting


def in_review_of_rounds(connection: Connection, provider: str,
                        round_refs: Sequence[str]) -> list[int]:
    """The ids of the bets of ``round_refs`` that are in review."""
    return [bet_id for chunk in chunks(round_refs)
            for bet_id in connection.scalars(
                select(BETS.c.id).where(BETS.c.provider == provider,
                                        BETS.c.round_ref.in_(chunk),
                                        BETS.c.state == BetState.IN_REVIEW.value))]


def open_by_game(session: Session, provider: str, placed_by: datetime) -> dict[str, int]:
    """Open bets placed at or before ``placed_by``, counted per game."""
    rows = session.execute(
        select(Bet.game_id, func.count())
        .where(Bet.provider == provider, Bet.state.in_(OPEN_STATES), Bet.placed_at <= placed_by)
        .group_by(Bet.game_id))
    return {str(game_id): int(count) for game_id, count in rows}
