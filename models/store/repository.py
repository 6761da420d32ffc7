"""Reading bets and applying compare-and-set changes with their audit events.

Every statement on the hot paths (claiming a check, applying a change, appending
events) is Core SQL on the tables, built once: no ORM unit of work, no identity map,
one round trip each. ``betguard.models.store.bulk`` does the same for many bets at once.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import JSON, Connection, Table, Update, bindparam, insert, literal, select, update
from sqlalchemy.orm import Session

from betguard.models.domain.errors import BetNotFound
from betguard.models.domain.events import EventKind, ReviewReason
from betguard.models.domain.money import wire_amount
from betguard.models.domain.outbox import NEW_NOTIFICATIONS, NotificationKind, NotificationState
from betguard.models.domain.snapshot import SNAPSHOT_FIELDS, BetSnapshot
from betguard.models.domain.states import BetState
from betguard.models.domain.transitions import Change, NewEvent
from betguard.models.store.tables import AuditEvent, Bet, Notification, Review

# Core statements run the same in an ORM unit of work or a plain Core transaction.
Executor = Session | Connection

BETS = cast(Table, Bet.__table__)
EVENTS = cast(Table, AuditEvent.__table__)
NOTIFICATIONS = cast(Table, Notification.__table__)
SNAPSHOT_COLUMNS = tuple(BETS.c[name] for name in SNAPSHOT_FIELDS)

_SELECT_BY_ID = select(*SNAPSHOT_COLUMNS).where(BETS.c.id == bindparam("b_id"))


def claimed_values(lease_until: Any, now: Any) -> dict[str, Any]:
    """What taking an attempt (a check's or a refund's) writes: the attempt moves to the
    next number, and the bet is held until ``lease_until`` (its next check)."""
    return {"check_attempt": BETS.c.check_attempt + 1, "next_check_at": lease_until,
            "version": BETS.c.version + 1, "updated_at": now}


def _claim_attempt(state: BetState) -> Update:
    """Take attempt ``b_attempt`` of a bet in ``state``: move to the next number and hold
    the bet until ``b_lease``. A duplicate or stale delivery matches no row."""
    return (
        update(BETS)
        .where(BETS.c.id == bindparam("b_id"), BETS.c.state == state.value,
               BETS.c.check_attempt == bindparam("b_attempt"))
        .values(claimed_values(bindparam("b_lease"), bindparam("b_now")))
        .returning(*SNAPSHOT_COLUMNS)
    )


_CLAIM = _claim_attempt(BetState.PENDING)
# PostgreSQL: the claim and its ``check_started`` event in one statement (one round trip).
_CLAIMED = _CLAIM.cte("claimed")
_CLAIM_AND_START = select(*_CLAIMED.c).add_cte(
    insert(EVENTS).from_select(
        ["bet_id", "at", "kind", "actor", "detail"],
        select(_CLAIMED.c.id, bindparam("b_at", type_=EVENTS.c.at.type),
               literal(EventKind.CHECK_STARTED.value), literal("betguard"),
               bindparam("b_detail", type_=JSON)),
    ).cte("started"))
# A refund attempt, by its attempt number (in refund_pending the check counter is free).
_CLAIM_REFUND = _claim_attempt(BetState.REFUND_PENDING)
_COUNT_DUPLICATE = (
    update(BETS).where(BETS.c.id == bindparam("b_id"))
    .values(duplicate_deliveries=BETS.c.duplicate_deliveries + 1)
)
_INSERT_EVENTS = insert(EVENTS)
_INSERT_NOTIFICATIONS = insert(NOTIFICATIONS).returning(NOTIFICATIONS.c.id,
                                                        sort_by_parameter_order=True)


def get(session: Session, bet_id: int) -> BetSnapshot | None:
    row = session.execute(_SELECT_BY_ID, {"b_id": bet_id}).mappings().one_or_none()
    return None if row is None else BetSnapshot.of_row(row)


def get_by_ref(session: Session, provider: str, bet_ref: str) -> BetSnapshot:
    row = session.execute(
        select(*SNAPSHOT_COLUMNS).where(BETS.c.provider == provider, BETS.c.bet_ref == bet_ref)
    ).mappings().one_or_none()
    if row is None:
        raise BetNotFound(f"no bet {provider}/{bet_ref}")
    return BetSnapshot.of_row(row)


def apply(session: Session, bet: BetSnapshot, change: Change, *, now: datetime) -> bool:
    """Perform ``change`` if the bet is still in the state and version it was read at.

    Returns False, writing nothing, when someone else changed the bet first.
    """
    result = session.execute(apply_statement(tuple(change.values)), apply_params(bet, change, now))
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    record_effects(session, [(bet, change)], now=now)
    return True


@functools.lru_cache(maxsize=64)
def apply_statement(keys: tuple[str, ...]) -> Update:
    """The compare-and-set UPDATE for a change of these columns (one per kind of change)."""
    return (
        update(BETS)
        .where(BETS.c.id == bindparam("b_id"), BETS.c.state == bindparam("b_state"),
               BETS.c.version == bindparam("b_version"))
        .values(version=BETS.c.version + 1, updated_at=bindparam("b_now"),
                **{key: bindparam(f"v_{key}") for key in keys})
    )


def apply_params(bet: BetSnapshot, change: Change, now: datetime) -> dict[str, Any]:
    params = {f"v_{key}": value for key, value in change.values.items()}
    params.update(b_id=bet.id, b_state=change.expect_state.value, b_version=bet.version,
                  b_now=now)
    return params


def record_effects(session: Session, applied: Sequence[tuple[BetSnapshot, Change]], *,
                   now: datetime) -> None:
    """What goes with applied changes in their transaction: the audit events, the
    notifications for the game server and the reviews they open."""
    add_events_of(session, ((bet.id, event) for bet, change in applied for event in change.events),
                  now=now)
    notices = [(bet, change.notify, {"state": change.target_state.value,
                                     "payout": _text(change.values.get("payout"))})
               for bet, change in applied if change.notify is not None]
    add_notifications(session, notices, now=now)
    for bet, change in applied:
        if change.review is not None:
            open_review_item(session, bet.id, change.review.reason, change.review.detail, now=now)


def claim_check(connection: Connection, bet_id: int, attempt: int, *, lease_until: datetime,
                now: datetime) -> BetSnapshot | None:
    """``claim`` and its ``check_started`` event, or the duplicate delivery counted, in
    the caller's Core transaction (one statement on PostgreSQL)."""
    params = {"b_id": bet_id, "b_attempt": attempt, "b_lease": lease_until, "b_now": now,
              "b_at": now, "b_detail": {"attempt": attempt}}
    if connection.dialect.name == "postgresql":
        row = connection.execute(_CLAIM_AND_START, params).mappings().one_or_none()
    else:
        row = connection.execute(_CLAIM, params).mappings().one_or_none()
        if row is not None:
            connection.execute(_INSERT_EVENTS, [{"bet_id": bet_id, "at": now,
                                                 "kind": EventKind.CHECK_STARTED.value,
                                                 "actor": "betguard",
                                                 "detail": {"attempt": attempt}}])
    if row is None:
        connection.execute(_COUNT_DUPLICATE, {"b_id": bet_id})
        return None
    return BetSnapshot.of_row(row)


def own_claims(connection: Connection, checks: Sequence[tuple[int, int]], *,
               lease_until: datetime) -> list[BetSnapshot]:
    """The bets of ``checks`` (bet id, attempt) as a claim of them left them, if that
    claim committed: each attempt moved on and the bet is held until exactly
    ``lease_until`` (a claim's token: another delivery's lease ends at another moment)."""
    attempts = dict(checks)
    rows = connection.execute(
        select(*SNAPSHOT_COLUMNS).where(
            BETS.c.id.in_(list(attempts)), BETS.c.state == BetState.PENDING.value,
            BETS.c.next_check_at == lease_until)
    ).mappings().all()
    return [BetSnapshot.of_row(row) for row in rows
            if row["check_attempt"] == attempts[row["id"]] + 1]


def all_applied(connection: Connection, bets: Sequence[BetSnapshot], *, now: datetime) -> bool:
    """Whether one change of each of ``bets`` (as read) committed at ``now``: each is one
    version on, written at that moment (a conclusion's token)."""
    rows = connection.execute(
        select(BETS.c.id, BETS.c.version, BETS.c.updated_at)
        .where(BETS.c.id.in_([bet.id for bet in bets]))).all()
    found = {bet_id: (version, at) for bet_id, version, at in rows}
    return all(found.get(bet.id) == (bet.version + 1, now) for bet in bets)


def claim_refund(session: Session, bet_id: int, attempt: int, *,
                 lease_until: datetime, now: datetime) -> BetSnapshot | None:
    """Hold a refund_pending bet for refund attempt ``attempt`` until ``lease_until``, with
    its ``refund_started`` event; or count the delivery as a duplicate."""
    row = session.execute(_CLAIM_REFUND, {"b_id": bet_id, "b_attempt": attempt,
                                          "b_lease": lease_until, "b_now": now}
                          ).mappings().one_or_none()
    if row is None:
        count_duplicate(session, bet_id)
        return None
    started = NewEvent(EventKind.REFUND_STARTED, "betguard",
                       {"attempt": attempt, "until": lease_until.isoformat()})
    add_events(session, bet_id, [started], now=now)
    return BetSnapshot.of_row(row)


def count_duplicate(session: Session, bet_id: int) -> None:
    """A delivery that found its work done or taken: counted on the bet."""
    session.execute(_COUNT_DUPLICATE, {"b_id": bet_id})


def latest_kinds(session: Session, bet_id: int, kinds: Iterable[EventKind] = (),
                 limit: int = 1) -> list[str]:
    """The kinds of the bet's latest events, newest first (of ``kinds`` only, if given)."""
    query = select(EVENTS.c.kind).where(EVENTS.c.bet_id == bet_id)
    wanted = [kind.value for kind in kinds]
    if wanted:
        query = query.where(EVENTS.c.kind.in_(wanted))
    return list(session.scalars(query.order_by(EVENTS.c.id.desc()).limit(limit)))


def latest_event(session: Session, bet_id: int) -> AuditEvent | None:
    return session.scalars(select(AuditEvent).where(AuditEvent.bet_id == bet_id)
                           .order_by(AuditEvent.id.desc()).limit(1)).first()


def add_events(
    session: Executor, bet_id: int, events: Sequence[NewEvent], *, now: datetime
) -> None:
    add_events_of(session, ((bet_id, event) for event in events), now=now)


def add_events_of(session: Executor, events: Iterable[tuple[int, NewEvent]], *,
                  now: datetime) -> None:
    """Append events of any number of bets in one statement."""
    _insert_events(session, [_event_row(bet_id, event, now) for bet_id, event in events])


def _insert_events(executor: Executor, rows: list[dict[str, Any]]) -> None:
    if len(rows) == 1:  # one row: a plain execute, without the driver's batching
        executor.execute(_INSERT_EVENTS, rows[0])
    elif rows:
        executor.execute(_INSERT_EVENTS, rows)


def _event_row(bet_id: int, event: NewEvent, now: datetime) -> dict[str, Any]:
    return {"bet_id": bet_id, "at": now, "kind": event.kind.value, "actor": event.actor,
            "detail": event.detail}


def open_review_item(
    session: Session, bet_id: int, reason: ReviewReason, detail: dict[str, Any], *,
    now: datetime,
) -> Review:
    """Open a review and tell the game server a person now holds the bet."""
    review = Review(bet_id=bet_id, reason=reason.value, opened_at=now, detail=detail)
    session.add(review)
    bet = get(session, bet_id)
    assert bet is not None  # noqa: S101 - reviews are opened on bets read in this transaction
    add_notification(session, bet, NotificationKind.REVIEW_OPENED,
                     {"reason": reason.value, "why": detail.get("why")}, now=now)
    return review


def add_notification(
    session: Session, bet: BetSnapshot, kind: NotificationKind, detail: dict[str, Any], *,
    now: datetime,
) -> int:
    """Put a notification in the outbox, in the caller's transaction; returns its id."""
    return add_notifications(session, [(bet, kind, detail)], now=now)[0]


def add_notifications(
    session: Session, notices: Sequence[tuple[BetSnapshot, NotificationKind, dict[str, Any]]],
    *, now: datetime,
) -> list[int]:
    """Put notifications in the outbox in one statement. Their ids are remembered on the
    session so the commit can wake their deliveries at once."""
    rows = [_notification_row(bet, kind, detail, now) for bet, kind, detail in notices]
    if not rows:
        return []
    ids = list(session.scalars(_INSERT_NOTIFICATIONS, rows))
    session.info.setdefault(NEW_NOTIFICATIONS, []).extend(ids)
    return ids


def add_game_notification(
    session: Session, kind: NotificationKind, detail: dict[str, Any], *, now: datetime,
) -> int:
    """Put news about a game or a provider (no one bet: a pause, a resume) in the outbox,
    in the caller's transaction; returns its id."""
    event_id = str(uuid.uuid4())
    payload = {"event_id": event_id, "event": kind.value, "occurred_at": now.isoformat(),
               **detail}
    row = {"event_id": event_id, "bet_id": None, "kind": kind.value, "payload": payload,
           "state": NotificationState.PENDING.value, "attempts": 0, "next_attempt_at": now,
           "created_at": now, "delivered_at": None, "last_error": None}
    ids: list[int] = list(session.scalars(_INSERT_NOTIFICATIONS, [row]))
    session.info.setdefault(NEW_NOTIFICATIONS, []).extend(ids)
    return ids[0]


def _notification_row(bet: BetSnapshot, kind: NotificationKind, detail: dict[str, Any],
                      now: datetime) -> dict[str, Any]:
    event_id = str(uuid.uuid4())
    payload = {
        "event_id": event_id, "event": kind.value, "occurred_at": now.isoformat(),
        "provider": bet.provider, "bet_ref": bet.bet_ref, "stake": wire_amount(bet.stake),
        "currency": bet.currency, **detail,
    }
    return {"event_id": event_id, "bet_id": bet.id, "kind": kind.value, "payload": payload,
            "state": NotificationState.PENDING.value, "attempts": 0, "next_attempt_at": now,
            "created_at": now, "delivered_at": None, "last_error": None}


def open_reviews(session: Session, bet_id: int) -> list[Review]:
    return list(
        session.scalars(
            select(Review)
            .where(Review.bet_id == bet_id, Review.resolved_at.is_(None))
            .order_by(Review.id)
        )
    )


def history(session: Session, bet_id: int) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent).where(AuditEvent.bet_id == bet_id).order_by(AuditEvent.id)
        )
    )


def _text(value: object) -> str | None:
    return wire_amount(value) if isinstance(value, Decimal) else None
