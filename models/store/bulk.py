"""Compare-and-set on many bets at once: the same guarantees as ``betguard.models.store.repository``
(each bet changes only from the state, attempt or version it was read at, with its
audit events in the same transaction), in a few statements instead of a few per bet."""

from __future__ import annotations

import functools
import json
import operator
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Column,
    Connection,
    Integer,
    Select,
    Table,
    any_,
    bindparam,
    func,
    insert,
    literal,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator

from betguard.models.domain.events import EventKind
from betguard.models.domain.snapshot import BetSnapshot
from betguard.models.domain.states import BetState
from betguard.models.domain.transitions import Change, Lease, NewEvent
from betguard.models.store.repository import (
    BETS,
    EVENTS,
    SNAPSHOT_COLUMNS,
    add_events_of,
    apply,
    apply_params,
    apply_statement,
    claimed_values,
    record_effects,
)

_COUNT_DUPLICATES = (
    update(BETS).where(BETS.c.id.in_(bindparam("b_ids", expanding=True)))
    .values(duplicate_deliveries=BETS.c.duplicate_deliveries + 1)
)


# From this many bets on, a batch goes through a staging table (see _insert_staged).
STAGED_FROM = 50
# How a staging table holds each kind of bet column: the loosest type of its values
# (the bets table checks lengths and precision when the rows reach it).
_STAGED_TYPES: dict[type, str] = {str: "text", Decimal: "numeric", datetime: "timestamptz",
                                  int: "integer"}


@dataclass(frozen=True)
class PlacingSql:
    """The driver's own statements (PostgreSQL) that place bets with their ``bet_placed``
    events, their column lists read from the bets table: every column but its generated
    id, in the table's order (a row to place has a value for each)."""

    columns: tuple[str, ...]
    # Each bet and its event in one statement, sent pipelined; SQLAlchemy's multi-row
    # rendering of an INSERT .. RETURNING costs several times the database's own work
    # for the same rows.
    insert_one: str
    staging_table: str  # many bets: COPY them here first (see _insert_staged)
    copy_staged: str
    place_staged: str


def placing_sql(bets: Table, events: Table) -> PlacingSql:
    placed = [column for column in bets.columns if not column.primary_key]
    columns = tuple(column.name for column in placed)
    names = ", ".join(columns)
    staged = ", ".join(f"{column.name} {_staged_type(column)}" for column in placed)
    values = ", ".join(f"%({name})s" for name in columns)
    # The statements' names come from the table definition; values are bound by the driver.
    insert_one = f"""
WITH new_bet AS (
    INSERT INTO {bets.name} ({names})
    VALUES ({values})
    ON CONFLICT (provider, bet_ref) DO NOTHING
    RETURNING id
)
INSERT INTO {events.name} (bet_id, at, kind, actor, detail)
SELECT id, %(created_at)s, %(event_kind)s, %(event_actor)s, CAST(%(event_detail)s AS json)
FROM new_bet
RETURNING bet_id
"""  # noqa: S608  # nosec B608
    staging_table = f"""
CREATE TEMPORARY TABLE IF NOT EXISTS placing_bets (
    seq integer, {staged}, event_kind text, event_actor text, event_detail json
) ON COMMIT DELETE ROWS
"""
    copy_staged = f"""
COPY placing_bets (seq, {names}, event_kind, event_actor, event_detail) FROM STDIN
"""
    place_staged = f"""
WITH new_bets AS (
    INSERT INTO {bets.name} ({names})
    SELECT {names}
    FROM placing_bets ORDER BY seq
    ON CONFLICT (provider, bet_ref) DO NOTHING
    RETURNING id, provider, bet_ref
), placed_events AS (
    INSERT INTO {events.name} (bet_id, at, kind, actor, detail)
    SELECT new_bets.id, staged.created_at, staged.event_kind, staged.event_actor,
           staged.event_detail
    FROM new_bets JOIN placing_bets AS staged USING (provider, bet_ref)
    ORDER BY staged.seq
)
SELECT staged.seq, new_bets.id
FROM new_bets JOIN placing_bets AS staged USING (provider, bet_ref)
"""  # noqa: S608  # nosec B608
    return PlacingSql(columns, insert_one, staging_table, copy_staged, place_staged)


def _staged_type(column: Column[Any]) -> str:
    kind = column.type
    if isinstance(kind, TypeDecorator):
        kind = kind.impl_instance
    return _STAGED_TYPES[kind.python_type]


_PLACING = placing_sql(BETS, EVENTS)
_staged_values = operator.itemgetter(*_PLACING.columns)
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
            cursor.execute(_PLACING.insert_one, rows[0])
            return [_first_id(cursor)]
        cursor.executemany(_PLACING.insert_one, rows, returning=True)  # pipelined
        new_ids = [_first_id(cursor)]
        while cursor.nextset():
            new_ids.append(_first_id(cursor))
        return new_ids


def _insert_staged(cursor: Any,
                   bets: Sequence[tuple[dict[str, Any], NewEvent]]) -> list[int | None]:
    """Many bets: COPY them into a temporary table, then one INSERT .. SELECT .. ON CONFLICT
    for the bets and one for their events (set-wise work for the database, one row
    written per bet by the client)."""
    cursor.execute(_PLACING.staging_table)
    with cursor.copy(_PLACING.copy_staged) as copy:
        for seq, (row, event) in enumerate(bets):
            copy.write_row((seq, *_staged_values(row), event.kind.value, event.actor,
                            json.dumps(event.detail)))
    new_ids: list[int | None] = [None] * len(bets)
    for seq, bet_id in cursor.execute(_PLACING.place_staged).fetchall():
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


def claim_and_start_many(connection: Connection, provider: str,
                         checks: Sequence[tuple[int, int]], *, lease_until: datetime,
                         now: datetime, together: str) -> list[BetSnapshot]:
    """Take the checks ``(bet id, attempt)`` of pending bets of ``provider`` in one
    UPDATE (a check whose attempt is gone: duplicate, stale, bet decided, is not taken
    and is counted as a duplicate delivery), with each bet's ``check_started`` event
    (detail: the attempt, and ``together``: how many were claimed with it), in the
    caller's Core transaction; on PostgreSQL the claim and the events are one statement.
    Returns the bets taken, as claimed, by id."""
    if not checks:
        return []
    wanted = list(dict.fromkeys((int(bet_id), int(attempt)) for bet_id, attempt in checks))
    if connection.dialect.name == "postgresql":
        rows = connection.execute(_claim_and_start_statement(together), {
            "b_ids": [bet_id for bet_id, _ in wanted],
            "b_attempts": [attempt for _, attempt in wanted],
            "b_provider": provider, "b_lease": lease_until, "b_now": now,
        }).mappings().all()
        bets = sorted((BetSnapshot.of_row(row) for row in rows), key=lambda bet: bet.id)
    else:
        claim = (update(BETS)
                 .where(BETS.c.id.in_([bet_id for bet_id, _ in wanted]),
                        tuple_(BETS.c.id, BETS.c.check_attempt).in_(wanted),
                        BETS.c.provider == provider, BETS.c.state == BetState.PENDING.value)
                 .values(claimed_values(lease_until, now))
                 .returning(*SNAPSHOT_COLUMNS))
        bets = sorted((BetSnapshot.of_row(row) for row in connection.execute(claim).mappings()),
                      key=lambda bet: bet.id)
        add_events_of(connection, ((bet.id, NewEvent(
            EventKind.CHECK_STARTED, "betguard",
            {"attempt": bet.check_attempt - 1, together: len(bets)})) for bet in bets),
            now=now)
    taken = {bet.id for bet in bets}
    count_duplicate_deliveries(connection, sorted({bet_id for bet_id, _ in wanted} - taken))
    return bets


@functools.lru_cache(maxsize=4)
def _claim_and_start_statement(together: str) -> Select[Any]:
    """PostgreSQL: the claim of the checks ``(b_ids[i], b_attempts[i])`` and their
    ``check_started`` events, in one statement whose text never changes (compiled and
    parsed once, where a list of values spelt out in it made a new text per group)."""
    ids = bindparam("b_ids", type_=ARRAY(BigInteger))
    wanted = func.unnest(ids, bindparam("b_attempts", type_=ARRAY(Integer))).table_valued(
        "id", "attempt").render_derived()
    claimed = (update(BETS)
               .where(BETS.c.id == any_(ids),  # the primary key's index finds the rows
                      tuple_(BETS.c.id, BETS.c.check_attempt).in_(
                          select(wanted.c.id, wanted.c.attempt)),
                      BETS.c.provider == bindparam("b_provider"),
                      BETS.c.state == BetState.PENDING.value)
               .values(claimed_values(bindparam("b_lease"), bindparam("b_now")))
               .returning(*SNAPSHOT_COLUMNS)).cte("claimed")
    started = insert(EVENTS).from_select(
        ["bet_id", "at", "kind", "actor", "detail"],
        select(claimed.c.id, bindparam("b_now", type_=EVENTS.c.at.type),
               literal(EventKind.CHECK_STARTED.value), literal("betguard"),
               func.json_build_object("attempt", claimed.c.check_attempt - 1,
                                      together, func.count().over())))
    return select(*claimed.c).add_cte(started.cte("started"))


def take_due(session: Session, lease: Lease, *, limit: int,
             now: datetime) -> list[tuple[int, int, str, str]]:
    """Hold up to ``limit`` bets due for ``lease``, oldest due first, in one conditional
    UPDATE with each bet's event; rows another transaction holds are skipped (``FOR
    UPDATE SKIP LOCKED``). Returns each bet taken: (id, attempt, provider, bet_ref)."""
    still_due = (BETS.c.state == lease.state.value, BETS.c.next_check_at <= lease.due_by)
    due = (select(BETS.c.id).where(*still_due).order_by(BETS.c.next_check_at).limit(limit)
           .with_for_update(skip_locked=True))
    rows = session.execute(
        update(BETS).where(BETS.c.id.in_(due.scalar_subquery()), *still_due)
        .values(lease.values)
        .returning(BETS.c.id, BETS.c.check_attempt, BETS.c.provider, BETS.c.bet_ref))
    taken = [(bet_id, attempt, provider, ref) for bet_id, attempt, provider, ref in rows]
    add_events_of(session, ((bet_id, lease.event(attempt))
                            for bet_id, attempt, _provider, _ref in taken), now=now)
    return taken


def count_duplicate_deliveries(session: Session | Connection, bet_ids: Sequence[int]) -> None:
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


def apply_quietly_many(connection: Connection, changes: Sequence[tuple[BetSnapshot, Change]],
                       *, now: datetime) -> bool:
    """``apply_many`` for changes that tell the game server nothing and open no review
    (rescheduled checks), in the caller's Core transaction, without the ORM: all of
    them, with their events, or False when some bet changed meanwhile (the caller
    rolls the transaction back and applies them one by one)."""
    assert all(change.notify is None and change.review is None  # noqa: S101 - see the name
               for _, change in changes)
    if _applied_all(connection, changes, now) != len(changes):
        return False
    add_events_of(connection, ((bet.id, event) for bet, change in changes
                               for event in change.events), now=now)
    return True


def _apply_all(session: Session, changes: Sequence[tuple[BetSnapshot, Change]],
               now: datetime) -> None:
    if _applied_all(session, changes, now) != len(changes):
        raise _NotAllApplied


def _applied_all(executor: Session | Connection, changes: Sequence[tuple[BetSnapshot, Change]],
                 now: datetime) -> int:
    """Each change's compare-and-set, one executemany per kind of change; the rows
    changed."""
    by_kind: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for bet, change in changes:
        by_kind[tuple(change.values)].append(apply_params(bet, change, now))
    return sum(executor.execute(apply_statement(keys), params).rowcount  # type: ignore[attr-defined]
               for keys, params in by_kind.items())
