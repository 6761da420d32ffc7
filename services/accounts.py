"""People's accounts: adding, disabling and resetting them, signing in and out, and the
console sessions that follow a sign-in (docs/console.md).

Passwords are hashed with argon2id (``argon2-cffi``, its default parameters: RFC 9106's
low-memory profile); only the hash is stored. A sign-in with an unknown name still
verifies a hash, so the time taken does not say which names exist. After
``lockout_after`` wrong passwords in a row the account is locked for
``lockout_seconds``; an address with too many refused sign-ins is refused for a while,
whatever name it tries. Every sign-in, refused or not, is in the access log.

A session is a random token in an HttpOnly cookie; the database keeps only its SHA-256
and the session's CSRF token. It ends ``idle`` after the last request, ``absolute``
after sign-in, at sign-out, and when its account is disabled or its password reset.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from betguard.models.domain.access import Actor, Role
from betguard.models.domain.errors import BetguardError, InvalidCommand
from betguard.models.store import accounts as store
from betguard.models.store.db import Session
from betguard.models.store.tables import Account, ConsoleSession
from betguard.services.context import Context

NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
MIN_PASSWORD = 12
MAX_PASSWORD = 512
ADDRESS_WINDOW = timedelta(minutes=15)
REFUSED = ("sign_in_refused",)
_HASHER = PasswordHasher()
_NOBODY = _HASHER.hash(secrets.token_urlsafe(16))  # verified for unknown names


class SignInRefused(BetguardError):
    """Raised when a sign-in fails. ``public`` is all the person is told (it never says
    whether the name exists); the reason is in the access log."""

    def __init__(self, reason: str, public: str = "wrong name or password") -> None:
        self.reason = reason
        self.public = public
        super().__init__(public)


@dataclass(frozen=True)
class SignInRules:
    lockout_after: int = 5
    lockout_seconds: float = 300.0
    address_limit: int = 30
    idle: timedelta = timedelta(minutes=30)
    absolute: timedelta = timedelta(hours=12)


@dataclass(frozen=True)
class SignedIn:
    """A live session: who, and the CSRF token its forms must carry."""

    actor: Actor
    csrf_token: str
    started_at: datetime


@dataclass(frozen=True)
class NewSession:
    token: str  # for the cookie; never stored
    signed_in: SignedIn


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def require_name(name: str) -> str:
    if not NAME.match(name or ""):
        raise InvalidCommand("name: 2 to 64 characters, lower-case letters, digits, '.', "
                             "'_' or '-', starting with a letter or digit")
    return name


def require_role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise InvalidCommand(f"role: must be one of {', '.join(r.value for r in Role)}, "
                             f"not {role!r}") from None


def require_password(password: str) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise InvalidCommand(f"password: must be at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD or "\x00" in password:
        raise InvalidCommand(f"password: at most {MAX_PASSWORD} characters, no NUL")
    return password


def add_account(ctx: Context, name: str, role: str, password: str, *, by: str,
                address: str = "cli") -> Account:
    require_name(name)
    chosen = require_role(role)
    require_password(password)
    now = ctx.clock()
    with ctx.db.unit_of_work() as session:
        if store.find(session, name) is not None:
            raise InvalidCommand(f"name: an account named {name!r} already exists")
        account = store.add(session, name=name, role=chosen.value,
                            password_hash=_HASHER.hash(password), now=now)
        store.record(session, account=name, action="account_added", address=address,
                     now=now, detail={"role": chosen.value, "by": by})
        session.commit()
    return account


def disable_account(ctx: Context, name: str, *, by: str, address: str = "cli") -> int:
    """Disable an account and end its sessions; how many sessions were ended."""
    now = ctx.clock()
    with ctx.db.unit_of_work() as session:
        account = _existing(session, name)
        account.disabled_at = account.disabled_at or now
        ended = store.end_sessions(session, account_id=account.id, now=now)
        store.record(session, account=name, action="account_disabled", address=address,
                     now=now, detail={"by": by, "sessions_ended": ended})
        session.commit()
    return ended


def reset_account(ctx: Context, name: str, password: str, *, by: str,
                  role: str | None = None, address: str = "cli") -> None:
    """A new password (and role, if given): enables the account, lifts a lock-out and
    ends its sessions."""
    require_password(password)
    chosen = require_role(role) if role is not None else None
    now = ctx.clock()
    with ctx.db.unit_of_work() as session:
        account = _existing(session, name)
        account.password_hash = _HASHER.hash(password)
        account.password_changed_at = now
        account.disabled_at = None
        account.failed_sign_ins = 0
        account.locked_until = None
        if chosen is not None:
            account.role = chosen.value
        ended = store.end_sessions(session, account_id=account.id, now=now)
        store.record(session, account=name, action="account_reset", address=address,
                     now=now, detail={"by": by, "role": account.role,
                                      "sessions_ended": ended})
        session.commit()


def list_accounts(ctx: Context) -> list[Account]:
    with ctx.db.unit_of_work() as session:
        people = store.everyone(session)
        session.expunge_all()
    return people


def actor_named(ctx: Context, name: str, *, via: str) -> Actor | None:
    """The active account of that name as an actor, or None if there is none."""
    with ctx.db.unit_of_work() as session:
        account = store.find(session, name)
        if account is None or account.disabled_at is not None:
            return None
        return Actor(account.name, Role(account.role), via)


def sign_in(ctx: Context, name: str, password: str, *, address: str,
            rules: SignInRules) -> NewSession:
    """A new session for ``name``, or ``SignInRefused``; both are logged."""
    now = ctx.clock()
    with ctx.db.unit_of_work() as session:
        refusals = store.count_actions(session, since=now - ADDRESS_WINDOW, actions=REFUSED,
                                       address=address)
        if refusals >= rules.address_limit:
            _refuse(session, name, address, now, "too many refused sign-ins from this "
                    "address", public="too many failed sign-ins from here: wait a few "
                    "minutes")
        account = store.find(session, name)
        if account is None:
            _verify(_NOBODY, password)
            _refuse(session, name, address, now, "no such account")
        assert account is not None  # noqa: S101 - _refuse raised otherwise
        if account.locked_until is not None and account.locked_until > now:
            _refuse(session, name, address, now, "account locked",
                    public="too many wrong passwords: this account is locked for a few "
                    "minutes")
        if not _verify(account.password_hash, password):
            _count_wrong_password(account, now, rules)
            _refuse(session, name, address, now, "wrong password")
        if account.disabled_at is not None:
            _refuse(session, name, address, now, "account disabled")
        account.failed_sign_ins = 0
        account.locked_until = None
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        store.start_session(session, token_sha256=token_digest(token), account=account,
                            csrf_token=csrf, address=address, now=now)
        store.record(session, account=name, action="signed_in", address=address, now=now)
        session.commit()
        actor = Actor(account.name, Role(account.role), "console")
    return NewSession(token, SignedIn(actor, csrf, now))


def session_of(ctx: Context, token: str, *, rules: SignInRules) -> SignedIn | None:
    """The live session behind a cookie's token, its last request moved to now; None
    (and the session ended) if it expired or its account was disabled."""
    now = ctx.clock()
    with ctx.db.unit_of_work() as session:
        found = store.live_session(session, token_digest(token))
        if found is None:
            return None
        row, account = found
        expired = _expiry(row, rules, now)
        if expired is not None or account.disabled_at is not None:
            row.ended_at = now
            store.record(session, account=account.name, action="session_ended",
                         address=row.address, now=now,
                         detail={"why": expired or "account disabled"})
            session.commit()
            return None
        row.last_seen_at = now
        session.commit()
        return SignedIn(Actor(account.name, Role(account.role), "console"), row.csrf_token,
                        row.started_at)


def sign_out(ctx: Context, token: str, *, address: str) -> None:
    now = ctx.clock()
    with ctx.db.unit_of_work() as session:
        found = store.live_session(session, token_digest(token))
        if found is None:
            return
        row, account = found
        row.ended_at = now
        store.record(session, account=account.name, action="signed_out", address=address,
                     now=now)
        session.commit()


def record(ctx: Context, actor: Actor, action: str, *, address: str,
           detail: dict[str, object] | None = None) -> None:
    """Log something a person did (a decision, a resend) in the access log."""
    with ctx.db.unit_of_work() as session:
        store.record(session, account=actor.name, action=action, address=address,
                     now=ctx.clock(), detail=dict(detail or {}) | {"via": actor.via})
        session.commit()


def decisions_in_last_minute(ctx: Context, actor: Actor) -> int:
    with ctx.db.unit_of_work() as session:
        return store.count_actions(session, since=ctx.clock() - timedelta(minutes=1),
                                   actions=DECISIONS, account=actor.name)


DECISIONS = ("decided", "proposed", "approved", "rejected", "recheck_ordered",
             "notification_resent", "bulk_recheck", "game_paused", "game_resumed")


def _expiry(row: ConsoleSession, rules: SignInRules, now: datetime) -> str | None:
    if now - row.started_at >= rules.absolute:
        return "absolute expiry"
    if now - row.last_seen_at >= rules.idle:
        return "idle expiry"
    return None


def _existing(session: Session, name: str) -> Account:
    account = store.find(session, name)
    if account is None:
        raise InvalidCommand(f"name: no account named {name!r}")
    return account


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _count_wrong_password(account: Account, now: datetime, rules: SignInRules) -> None:
    account.failed_sign_ins += 1
    if account.failed_sign_ins >= rules.lockout_after:
        account.locked_until = now + timedelta(seconds=rules.lockout_seconds)


def _refuse(session: Session, name: str, address: str, now: datetime, reason: str,
            *, public: str = "wrong name or password") -> None:
    """Log the refusal (and keep what the attempt changed: a failed count, a lock), then
    raise it."""
    store.record(session, account=name or "?", action="sign_in_refused", address=address,
                 now=now, detail={"why": reason})
    session.commit()
    raise SignInRefused(reason, public)
