"""Compare-and-set on many bets at once: the same guarantees as ``betguard.models.repository``
(each bet changes only from the state, attempt or version it was read at, with its
audit events in the same transaction), in a few statements instead of a few per bet."""

from __future__ import annotations

import json
import operator
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, tuple_, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from betguard.models.repository import (
    BETS,
    SNAPSHOT_COLUMNS,
    add_events_of,
    apply,
    apply_params,
    apply_statement,
    record_effects,
)
from betguard.models.snapshot import BetSnapshot
from betguard.models.transitions import Change, NewEvent

_COUNT_DUPLICATES = (
    update(BETS).where(BETS.c.id.in_(bindparam("b_ids", expanding=True)))
    .values(duplicate_deliveries=BETS.c.duplicate_deliveries + 1)
)


# The driver's own statement (PostgreSQL): each bet and its ``bet_placed`` event in one
# statement, sent pipelined; SQLAlchemy's multi-row rendering of an INSERT .. RETURNING
# costs several times the database's own work for the same rows.
_INSERT_PLACED_BET = """
WITH new_bet AS (
    INSERT INTO bets (provider, bet_ref, player_id, game_id, round_id, stake, currency,
                      placed_at, state, payout, deadline, next_check_at, check_attempt,
                      version, duplicate_deliveries, created_at, updated_at, final_at)
    VALUES (%(provider)s, %(bet_ref)s, %(player_id)s, %(game_id)s, %(round_id)s, %(stake)s,
            %(currency)s, %(placed_at)s, %(state)s, %(payout)s, %(deadline)s,
            %(next_check_at)s, %(check_attempt)s, %(version)s, %(duplicate_deliveries)s,
            %(created_at)s, %(updated_at)s, %(final_at)s)
    ON CONFLICT (provider, bet_ref) DO NOTHING
    RETURNING id
)
INSERT INTO audit_events (bet_id, at, kind, actor, detail)
SELECT id, %(created_at)s, %(event_kind)s, %(event_actor)s, CAST(%(event_detail)s AS json)
FROM new_bet
RETURNING bet_id
"""
# From this many bets on, a batch goes through a staging table (see _insert_staged).
STAGED_FROM = 50
_STAGED_COLUMNS = ("provider", "bet_ref", "player_id", "game_id", "round_id", "stake",
                   "currency", "placed_at", "state", "payout", "deadline", "next_check_at",
                   "check_attempt", "version", "duplicate_deliveries", "created_at",
                   "updated_at", "final_at")
_staged_values = operator.itemgetter(*_STAGED_COLUMNS)
_STAGING_TABLE = """
CREATE TEMPORARY TABLE IF NOT EXISTS placing_bets (
    seq integer, provider text, bet_ref text, player_id text, game_id text, round_id text,
    stake numeric, currency text, placed_at timestamptz, state text, payout numeric,
    deadline timestamptz, next_check_at timestamptz, check_attempt integer, version integer,
    duplicate_deliveries integer, created_at timestamptz, updated_at timestamptz,
    final_at timestamptz, event_kind text, event_actor text, event_detail json
) ON COMMIT DELETE ROWS
"""
_COPY_STAGED = """
COPY placing_bets (seq, provider, bet_ref, player_id, game_id, round_id, stake, currency,
                   placed_at, state, payout, deadline, next_check_at, check_attempt, version,
                   duplicate_deliveries, created_at, updated_at, final_at, event_kind,
                   event_actor, event_detail) FROM STDIN
"""
_PLACE_STAGED = """
WITH new_bets AS (
    INSERT INTO bets (provider, bet_ref, player_id, game_id, round_id, stake, currency,
                      placed_at, state, payout, deadline, next_check_at, check_attempt,
                      version, duplicate_deliveries, created_at, updated_at, final_at)
    SELECT provider, bet_ref, player_id, game_id, round_id, stake, currency, placed_at, state,
           payout, deadline, next_check_at, check_attempt, version, duplicate_deliveries,
           created_at, updated_at, final_at
    FROM placing_bets ORDER BY seq
    ON CONFLICT (provider, bet_ref) DO NOTHING
    RETURNING id, provider, bet_ref
), placed_events AS (
    INSERT INTO audit_events (bet_id, at, kind, actor, detail)
    SELECT new_bets.id, staged.created_at, staged.event_kind, staged.event_actor,
           staged.event_detail
    FROM new_bets JOIN placing_bets AS staged USING (provider, bet_ref)
    ORDER BY staged.seq
)
SELECT staged.seq, new_bets.id
FROM new_bets JOIN placing_bets AS staged USING (provider, bet_ref)
"""
_INSERT_NEW_BET_SQLITE = (
    sqlite.insert(BETS).on_conflict_do_nothing(index_elements=["provider", "bet_ref"])
    .returning(BETS.c.id, BETS.c.provider, BETS.c.bet_ref)
)


def insert_placed_bets(connection: Connection, bets: Sequence[tuple[dict[str, Any], NewEvent]],
                       *, now: datetime) -> list[int | None]:
    """INSERT each (bet row, its placing event) unless the bet's (provider, bet_ref) exists;
    returns each row's new id, None where the reference was taken. References must be
    distinct."""
    if not bets:
        return []
    if connection.dialect.name != "postgresql":
        return _insert_placed_bets_sqlite(connection, bets, now)
    with connection.connection.driver_connection.cursor() as cursor:  # type: ignore[union-attr]
        if len(bets) >= STAGED_FROM:
            return _insert_staged(cursor, bets)
        rows = [{**row, "event_kind": event.kind.value, "event_actor": event.actor,
                 "event_detail": json.dumps(event.detail)} for row, event in bets]
        if len(rows) == 1:
            cursor.execute(_INSERT_PLACED_BET, rows[0])
            return [_first_id(cursor)]
        cursor.executemany(_INSERT_PLACED_BET, rows, returning=True)  # pipelined
        new_ids = [_first_id(cursor)]
        while cursor.nextset():
            new_ids.append(_first_id(cursor))
        return new_ids


def _insert_staged(cursor: Any,
                   bets: Sequence[tuple[dict[str, Any], NewEvent]]) -> list[int | None]:
    """Many bets: COPY them into a temporary table, then one INSERT .. SELECT .. ON CONFLICT
    for the bets and one for their events (set-wise work for the database, one row
    written per bet by the client)."""
    cursor.execute(_STAGING_TABLE)
    with cursor.copy(_COPY_STAGED) as copy:
        for seq, (row, event) in enumerate(bets):
            copy.write_row((seq, *_staged_values(row), event.kind.value, event.actor,
                            json.dumps(event.detail)))
    new_ids: list[int | None] = [None] * len(bets)
    for seq, bet_id in cursor.execute(_PLACE_STAGED).fetchall():
        new_ids[seq] = int(bet_id)
    return new_ids


def _insert_placed_bets_sqlite(connection: Connection,
                               bets: Sequence[tuple[dict[str, Any], NewEvent]],
                               now: datetime) -> list[int | None]:
    found = connection.execute(_INSERT_NEW_BET_SQLITE, [row for row, _ in bets]).all()
    known = {(provider, ref): bet_id for bet_id, provider, ref in found}
    ids = [known.get((row["provider"], row["bet_ref"])) for row, _ in bets]
    add_events_of(connection, ((bet_id, event) for bet_id, (_, event) in zip(ids, bets,
                                                                            strict=True)
                               if bet_id is not None), now=now)
    return ids


def _first_id(cursor: Any) -> int | None:
    row = cursor.fetchone()
    return None if row is None else int(row[0])


class _NotAllApplied(Exception):
    """Raised inside the savepoint when some bet changed meanwhile: undo, go one by one."""


def claim_many(session: Session, provider: str, checks: Sequence[tuple[int, int]], *,
               lease_until: datetime, now: datetime) -> list[BetSnapshot]:
    """Take the checks ``(bet id, attempt)`` of pending bets of ``provider`` in one
    UPDATE; a check whose attempt is gone (duplicate, stale, bet decided) is not taken.
    Returns the bets taken, as claimed."""
    if not checks:
        return []
    wanted = list(dict.fromkeys((int(bet_id), int(attempt)) for bet_id, attempt in checks))
    rows = session.execute(
        update(BETS)
        .where(BETS.c.id.in_([bet_id for bet_id, _ in wanted]),
               tuple_(BETS.c.id, BETS.c.check_attempt).in_(wanted),
               BETS.c.provider == provider, BETS.c.state == "pending")
        .values(check_attempt=BETS.c.check_attempt + 1, next_check_at=lease_until,
                version=BETS.c.version + 1, updated_at=now)
        .returning(*SNAPSHOT_COLUMNS)
    ).mappings().all()
    return sorted((BetSnapshot.of_row(row) for row in rows), key=lambda bet: bet.id)


def count_duplicate_deliveries(session: Session, bet_ids: Sequence[int]) -> None:
    if bet_ids:
        session.execute(_COUNT_DUPLICATES, {"b_ids": list(bet_ids)})


def apply_many(session: Session, changes: Sequence[tuple[BetSnapshot, Change]], *,
               now: datetime) -> list[bool]:
    """``repository.apply`` for each (bet, change), in the caller's transaction.

    The common case, where nobody else touched these bets, costs one executemany per
    kind of change; if any bet changed meanwhile, that attempt is undone (a savepoint)
    and the changes are applied one by one, so each says whether it won.
    """
    if len(changes) > 1:
        try:
            with session.begin_nested():
                _apply_all(session, changes, now)
        except _NotAllApplied:
            pass
        else:
            record_effects(session, changes, now=now)
            return [True] * len(changes)
    return [apply(session, bet, change, now=now) for bet, change in changes]


def _apply_all(session: Session, changes: Sequence[tuple[BetSnapshot, Change]],
               now: datetime) -> None:
    by_kind: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for bet, change in changes:
        by_kind[tuple(change.values)].append(apply_params(bet, change, now))
    changed = 0
    for keys, params in by_kind.items():
        changed += session.execute(apply_statement(keys), params).rowcount  # type: ignore[attr-defined]
    if changed != len(changes):
        raise _NotAllApplied
