"""People's accounts, their console sessions and the access log, as named queries
(``betguard.services.accounts`` decides; this module only reads and writes)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from betguard.models.store.tables import AccessEvent, Account, ConsoleSession


def find(session: Session, name: str) -> Account | None:
    return session.scalars(select(Account).where(Account.name == name)).one_or_none()


def everyone(session: Session) -> list[Account]:
    return list(session.scalars(select(Account).order_by(Account.name)))


def add(session: Session, *, name: str, role: str, password_hash: str,
        now: datetime) -> Account:
    account = Account(name=name, role=role, password_hash=password_hash, created_at=now,
                      password_changed_at=now, disabled_at=None, failed_sign_ins=0,
                      locked_until=None)
    session.add(account)
    session.flush()
    return account


def record(session: Session, *, account: str, action: str, address: str, now: datetime,
           detail: dict[str, Any] | None = None) -> None:
    """Append to the access log (never updated, never deleted)."""
    session.add(AccessEvent(at=now, account=account[:64], action=action,
                            address=address[:64], detail=detail or {}))


def count_actions(session: Session, *, since: datetime, actions: tuple[str, ...],
                  account: str | None = None, address: str | None = None) -> int:
    """How many of ``actions`` the access log holds since ``since``, by one account or
    from one address."""
    query = select(func.count()).select_from(AccessEvent).where(
        AccessEvent.at >= since, AccessEvent.action.in_(actions))
    if account is not None:
        query = query.where(AccessEvent.account == account)
    if address is not None:
        query = query.where(AccessEvent.address == address)
    return int(session.scalar(query) or 0)


def access_log(session: Session, *, limit: int = 200,
               account: str | None = None) -> list[AccessEvent]:
    query = select(AccessEvent).order_by(AccessEvent.id.desc()).limit(limit)
    if account is not None:
        query = query.where(AccessEvent.account == account)
    return list(session.scalars(query))


def start_session(session: Session, *, token_sha256: str, account: Account, csrf_token: str,
                  address: str, now: datetime) -> ConsoleSession:
    row = ConsoleSession(token_sha256=token_sha256, account_id=account.id,
                         csrf_token=csrf_token, address=address[:64], started_at=now,
                         last_seen_at=now, ended_at=None)
    session.add(row)
    return row


def live_session(session: Session, token_sha256: str) -> tuple[ConsoleSession, Account] | None:
    """The session behind a token and its account, unless it was ended."""
    row = session.execute(
        select(ConsoleSession, Account).join(Account, Account.id == ConsoleSession.account_id)
        .where(ConsoleSession.token_sha256 == token_sha256, ConsoleSession.ended_at.is_(None))
    ).one_or_none()
    return None if row is None else (row[0], row[1])


def end_sessions(session: Session, *, account_id: int, now: datetime) -> int:
    """End every open session of an account (disabled, password reset); how many."""
    result = session.execute(
        update(ConsoleSession)
        .where(ConsoleSession.account_id == account_id, ConsoleSession.ended_at.is_(None))
        .values(ended_at=now))
    return int(getattr(result, "rowcount", 0) or 0)
