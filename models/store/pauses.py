"""Game pauses as stored: which games of a provider are paused, and the two flips, each
made only if nobody made it yet (so watchers running side by side notify once)."""

from __future__ import annotations

import zlib
from datetime import datetime

from sqlalchemy import select, text, update

from betguard.models.store.db import Session, conflict_insert
from betguard.models.store.tables import GamePause


def providers_with_paused_games(session: Session) -> set[str]:
    return set(session.scalars(
        select(GamePause.provider).where(GamePause.paused.is_(True)).distinct()))


def paused_games(session: Session, provider: str) -> set[str]:
    return set(session.scalars(select(GamePause.game_id).where(
        GamePause.provider == provider, GamePause.paused.is_(True))))


def take_turn(session: Session, provider: str) -> None:
    """Watchers of one provider take turns until the end of the transaction (PostgreSQL;
    the conditional statements alone keep other databases to one notification)."""
    if session.get_bind().dialect.name == "postgresql":
        key = zlib.crc32(f"betguard:game_pauses:{provider}".encode())
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def mark_paused(session: Session, provider: str, game_id: str, unreturned: int,
                now: datetime) -> bool:
    """Insert the pause, or flip a resumed row to paused: only if it is not paused yet."""
    values = {"provider": provider, "game_id": game_id, "paused": True,
              "unreturned": unreturned, "changed_at": now}
    statement = conflict_insert(session, GamePause).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=["provider", "game_id"],
        set_={"paused": True, "unreturned": statement.excluded.unreturned,
              "changed_at": statement.excluded.changed_at},
        where=GamePause.paused.is_(False),
    ).returning(GamePause.game_id)
    return session.execute(statement).first() is not None


def mark_resumed(session: Session, provider: str, game_id: str, unreturned: int,
                 now: datetime) -> bool:
    """Flip a paused row to resumed: only if it is still paused, and not held by a
    person (only ``release`` resumes those)."""
    resumed = session.execute(
        update(GamePause)
        .where(GamePause.provider == provider, GamePause.game_id == game_id,
               GamePause.paused.is_(True), GamePause.held_by.is_(None))
        .values(paused=False, unreturned=unreturned, changed_at=now)
        .returning(GamePause.game_id))
    return resumed.first() is not None


def hold(session: Session, provider: str, game_id: str, *, by: str, now: datetime) -> bool:
    """A person pauses the game (or every game: "*"): held until a person releases it.
    True if it was not paused before (the game server is to be told)."""
    was = session.get(GamePause, (provider, game_id))
    if was is None:
        session.add(GamePause(provider=provider, game_id=game_id, paused=True, unreturned=0,
                              changed_at=now, held_by=by))
        session.flush()
        return True
    flipped = not was.paused
    was.paused, was.held_by = True, by
    if flipped:
        was.changed_at = now
    return flipped


def release(session: Session, provider: str, game_id: str, *, now: datetime) -> bool:
    """A person resumes the game; True if it was paused (the game server is to be told).
    The watcher may pause it again if its bets still do not come back."""
    resumed = session.execute(
        update(GamePause)
        .where(GamePause.provider == provider, GamePause.game_id == game_id,
               GamePause.paused.is_(True))
        .values(paused=False, held_by=None, changed_at=now)
        .returning(GamePause.game_id))
    return resumed.first() is not None


def all_pauses(session: Session) -> list[GamePause]:
    return list(session.scalars(select(GamePause).where(GamePause.paused.is_(True))
                                .order_by(GamePause.provider, GamePause.game_id)))
