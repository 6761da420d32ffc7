"""The mirror of providers' history feeds, and where each feed's pull stands.

``provider_rows`` holds the newest version of every record a provider published; it
is written only by the feed pull (``betguard.services.feeds``) and read by the checks of
providers with a history (a database read: no provider call) and by reconciliation.

Writing it is idempotent: a record seen again (a page boundary, a replay, a retried
pull) changes nothing unless its version is newer, so an old state that arrives late
never replaces a newer one and a final row never turns pending again.

``feed_cursors`` keeps each feed's cursor, and a claim that makes one call of a feed at
a time, at most once per ``feed_interval``, across every worker and beat tick: the
provider's rate limit holds however many processes pull.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, Table, and_, or_, select, update

from betguard.models.domain.answers import VIA_MIRROR, BetStatus, Hand, HistoryRow, ProviderStatus
from betguard.models.domain.escalation import ConflictingAnswer
from betguard.models.domain.hands import fold
from betguard.models.domain.rounds import answer_for_bet
from betguard.models.domain.snapshot import BetSnapshot
from betguard.models.store.db import conflict_insert
from betguard.models.store.tables import FeedCursor, ProviderRow

ROWS = cast(Table, ProviderRow.__table__)
CURSORS = cast(Table, FeedCursor.__table__)
VIA = VIA_MIRROR
FINAL = frozenset({ProviderStatus.SETTLED, ProviderStatus.CANCELLED})
# Row ids per IN list: well below any driver's limit of bound parameters.
_CHUNK = 1000
_UPDATED = ("bet_ref", "feed", "status", "version", "stake", "payout", "currency",
            "placed_at", "settled_at", "hand", "trace_id", "updated_at")


@dataclass(frozen=True)
class Upserted:
    """What one page did to the mirror. ``finals`` are the rows' refs (the rounds the bets
    name by ``round_ref``) whose row is new or newer and final (settled or cancelled):
    their open bets can be checked now."""

    new: int
    updated: int
    unchanged: int
    finals: frozenset[str] = frozenset()


def newest_of(rows: Iterable[HistoryRow]) -> list[HistoryRow]:
    """One row per ``row_id``, its newest version (a page may list a record twice)."""
    newest: dict[str, HistoryRow] = {}
    for row in rows:
        seen = newest.get(row.row_id)
        if seen is None or row.version > seen.version:
            newest[row.row_id] = row
    return list(newest.values())


def upsert_rows(connection: Connection, provider: str, feed: str, rows: Sequence[HistoryRow],
                now: datetime) -> Upserted:
    """Store a page's rows in the caller's transaction: a new ``row_id`` is inserted, a
    known one updated only when the incoming version is newer (older or equal: nothing
    changes). The statement itself guards the version too (ON CONFLICT ... DO UPDATE
    ... WHERE excluded.version > provider_rows.version), so a concurrent writer can never
    move a row back; the counts come from the versions read first."""
    page = newest_of(rows)
    if not page:
        return Upserted(0, 0, 0)
    stored = _stored_versions(connection, provider, [row.row_id for row in page])
    changed = [row for row in page if row.row_id not in stored or row.version > stored[row.row_id]]
    new = sum(1 for row in changed if row.row_id not in stored)
    if changed:
        connection.execute(_upsert_statement(connection),
                           [_values(provider, feed, row, now) for row in changed])
    finals = frozenset(row.bet_ref for row in changed if row.status in FINAL)
    return Upserted(new=new, updated=len(changed) - new, unchanged=len(page) - len(changed),
                    finals=finals)


def _stored_versions(connection: Connection, provider: str,
                     row_ids: Sequence[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for start in range(0, len(row_ids), _CHUNK):
        chunk = row_ids[start:start + _CHUNK]
        found.update((row_id, version) for row_id, version in connection.execute(
            select(ROWS.c.row_id, ROWS.c.version)
            .where(ROWS.c.provider == provider, ROWS.c.row_id.in_(chunk))))
    return found


def _upsert_statement(connection: Connection) -> Any:
    statement = conflict_insert(connection, ROWS)
    return statement.on_conflict_do_update(
        index_elements=[ROWS.c.provider, ROWS.c.row_id],
        set_={name: statement.excluded[name] for name in _UPDATED},
        where=statement.excluded.version > ROWS.c.version,
    )


def _values(provider: str, feed: str, row: HistoryRow, now: datetime) -> dict[str, Any]:
    return {"provider": provider, "row_id": row.row_id, "bet_ref": row.bet_ref, "feed": feed,
            "status": row.status.value, "version": row.version, "stake": row.stake,
            "payout": row.payout, "currency": row.currency, "placed_at": row.placed_at,
            "settled_at": row.settled_at, "hand": None if row.hand is None else row.hand.value,
            "trace_id": row.trace_id, "first_seen_at": now, "updated_at": now}


def rows_of(connection: Connection, provider: str, bet_ref: str) -> list[HistoryRow]:
    """The mirror's rows of one bet, by row id, as stored (hands not folded)."""
    found = connection.execute(
        select(ROWS).where(ROWS.c.provider == provider, ROWS.c.bet_ref == bet_ref)
        .order_by(ROWS.c.row_id)).mappings()
    return [HistoryRow(row_id=r["row_id"], bet_ref=r["bet_ref"],
                       status=ProviderStatus(r["status"]), version=r["version"],
                       stake=r["stake"], payout=r["payout"], currency=r["currency"],
                       placed_at=r["placed_at"], settled_at=r["settled_at"],
                       hand=None if r["hand"] is None else Hand(r["hand"]),
                       trace_id=r["trace_id"]) for r in found]


def mirror_answer(connection: Connection, provider: str, bet_ref: str) -> BetStatus:
    """What the provider's history says about one bet (``via`` "mirror").

    The hands of a round are read as the round's one row first (``betguard.models.domain.hands``).
    No row: UNKNOWN (not in the feed yet, or never seen: providers show bets late). One
    row, or several that agree: its status. Several rows (different record ids: the
    provider recorded the round twice) that disagree: a :class:`ConflictingAnswer`,
    which sends the bet to a person (REVIEW, AMBIGUOUS) rather than settling it on one
    of them, refunding it, or waiting for a deadline that changes nothing. Its ``as_of``
    is the copy's ``synced_at``, read first (:func:`answer_as_of`).
    """
    return answer_as_of(connection, provider, bet_ref, as_of=synced_at(connection, provider))


def answer_as_of(connection: Connection, provider: str, bet_ref: str, *,
                 as_of: datetime | None) -> BetStatus:
    """:func:`mirror_answer` with the copy's ``synced_at`` read by the caller, before this
    (once for many bets): the rows read now hold at least everything up to it, since a
    pull stores its rows and moves ``synced_at`` in one transaction. Read the other way
    round, a pull committing in between would make an old row look covered."""
    rows = fold(rows_of(connection, provider, bet_ref))
    if not rows:
        return BetStatus(bet_ref=bet_ref, status=ProviderStatus.UNKNOWN, via=VIA, as_of=as_of)
    answers = [_answer(row, as_of) for row in rows]
    if len({(a.status, a.payout, a.currency) for a in answers}) == 1:
        return answers[0]
    return ConflictingAnswer(bet_ref=bet_ref, status=ProviderStatus.FINISHED, via=VIA,
                             as_of=as_of, answers=tuple(answers))


def _answer(row: HistoryRow, as_of: datetime | None) -> BetStatus:
    return BetStatus(bet_ref=row.bet_ref, status=row.status, payout=row.payout,
                     currency=row.currency, settled_at=row.settled_at, via=VIA, as_of=as_of,
                     trace_id=row.trace_id, stake=row.stake)


def bet_answer(connection: Connection, bet: BetSnapshot, *,
               as_of: datetime | None) -> BetStatus:
    """What the history says about one bet: its round's answer (rows are the provider's
    rounds, named by the bet's ``round_ref``), as far as it is the bet's
    (``betguard.models.domain.rounds``: a round's payout is never paid once per bet)."""
    return answer_for_bet(answer_as_of(connection, bet.provider, bet.round_ref, as_of=as_of),
                          bet)


def bet_answer_now(connection: Connection, bet: BetSnapshot) -> BetStatus:
    """:func:`bet_answer` as of the copy's ``synced_at`` now (read first)."""
    return bet_answer(connection, bet, as_of=synced_at(connection, bet.provider))


# -- feed cursors ------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedClaim:
    """One call of a feed, taken: the cursor to call it with. ``claimed_at`` identifies
    the claim (it is the feed's ``last_call_at`` while no one claimed it since)."""

    provider: str
    feed: str
    cursor: str | None
    claimed_at: datetime


def claim_feed(connection: Connection, provider: str, feed: str, *, now: datetime,
               interval: float, lease: float) -> FeedClaim | None:
    """Take the feed's next call, in one UPDATE: only when it is due (never called, or
    last called ``interval`` seconds ago or more) and not held by a pull in flight (its
    lease over). Sets ``last_call_at`` (the rate limit counts the call from now, whether
    it succeeds or not) and a lease. None: not due, or held. The feed's row is created
    on first use (a second creator at the same moment is ignored)."""
    claimed = _claim(connection, provider, feed, now=now, interval=interval, lease=lease)
    if claimed is None and _create(connection, provider, feed):
        claimed = _claim(connection, provider, feed, now=now, interval=interval, lease=lease)
    return claimed


def _claim(connection: Connection, provider: str, feed: str, *, now: datetime,
           interval: float, lease: float) -> FeedClaim | None:
    row = connection.execute(
        update(CURSORS)
        .where(CURSORS.c.provider == provider, CURSORS.c.feed == feed,
               or_(CURSORS.c.last_call_at.is_(None),
                   CURSORS.c.last_call_at <= now - timedelta(seconds=interval)),
               or_(CURSORS.c.lease_until.is_(None), CURSORS.c.lease_until <= now))
        .values(last_call_at=now, lease_until=now + timedelta(seconds=lease))
        .returning(CURSORS.c.cursor)).one_or_none()
    return None if row is None else FeedClaim(provider, feed, row[0], now)


def _create(connection: Connection, provider: str, feed: str) -> bool:
    created = connection.execute(
        conflict_insert(connection, CURSORS)
        .values(provider=provider, feed=feed, pulls=0, rows_seen=0)
        .on_conflict_do_nothing(index_elements=[CURSORS.c.provider, CURSORS.c.feed]))
    return bool(created.rowcount)


def _held(claim: FeedClaim) -> Any:
    """The feed is still this claim's: nobody claimed it since (its lease held)."""
    return and_(CURSORS.c.provider == claim.provider, CURSORS.c.feed == claim.feed,
                CURSORS.c.last_call_at == claim.claimed_at)


def advance(connection: Connection, claim: FeedClaim, *, cursor: str, new_rows: int,
            now: datetime, caught_up: bool) -> bool:
    """After a page is stored (in the same transaction): the new cursor, the pull
    counted, the lease and the last error cleared; ``caught_up`` (the page reached the
    feed's end, it was not full) moves ``synced_at`` to the moment this call started:
    the mirror now holds everything the provider had published by then. False, changing
    nothing, when the claim's lease ran out and another pull claimed the feed since (its
    cursor stands: the rows stored here are harmless, every write is idempotent)."""
    values: dict[str, Any] = {
        "cursor": cursor, "last_success_at": now, "pulls": CURSORS.c.pulls + 1,
        "rows_seen": CURSORS.c.rows_seen + new_rows, "lease_until": None, "last_error": None}
    if caught_up:
        values["synced_at"] = claim.claimed_at
    result = connection.execute(update(CURSORS).where(_held(claim)).values(values))
    return result.rowcount == 1


def synced_at(connection: Connection, provider: str) -> datetime | None:
    """Up to when the mirror of the provider's history is whole: the oldest ``synced_at``
    of its feeds (None: one of them never caught up, or none was ever pulled)."""
    moments: list[datetime | None] = list(connection.scalars(
        select(CURSORS.c.synced_at).where(CURSORS.c.provider == provider)))
    known = [moment for moment in moments if moment is not None]
    if not moments or len(known) < len(moments):
        return None
    return min(known)


def failed(connection: Connection, claim: FeedClaim, *, error: str) -> bool:
    """A call that brought no page: the error recorded, the lease cleared. Its
    ``last_call_at`` stays: a failed call counts against the rate limit too."""
    result = connection.execute(
        update(CURSORS).where(_held(claim)).values(last_error=error[:1000], lease_until=None))
    return result.rowcount == 1


def cursor_of(connection: Connection, provider: str, feed: str) -> dict[str, Any] | None:
    """The feed's row in ``feed_cursors`` (None: never pulled)."""
    row = connection.execute(
        select(CURSORS).where(CURSORS.c.provider == provider, CURSORS.c.feed == feed)
    ).mappings().one_or_none()
    return None if row is None else dict(row)
