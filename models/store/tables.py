"""SQLAlchemy 2.0 typed models: bets, their audit events, review items, the notification
outbox and the sweeps' run counts."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from betguard.models.store.types import Money, UTCDateTime

Id = Annotated[int, mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)]
Name = Annotated[str, mapped_column(String(128))]
Moment = Annotated[datetime, mapped_column(UTCDateTime())]
MaybeMoment = Annotated[datetime | None, mapped_column(UTCDateTime(), nullable=True)]
Amount = Annotated[Decimal, mapped_column(Money())]
BetId = Annotated[
    int,
    mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("bets.id"), index=True
    ),
]


def _the_bet_ref(context: Any) -> Any:
    """A bet inserted without a round_ref is a round of its own."""
    return context.get_current_parameters()["bet_ref"]


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON}


class Bet(Base):
    """One bet placed with a provider, and where betguard is with it."""

    __tablename__ = "bets"
    __table_args__ = (
        UniqueConstraint("provider", "bet_ref", name="uq_bets_provider_ref"),
        # Sweeps read "due work in a state". Only bets with a next check are in it (final
        # and in-review bets have none), so it stays the size of the live work, whatever
        # the size of the table.
        Index("ix_bets_due", "state", "next_check_at",
              postgresql_where=text("next_check_at IS NOT NULL"),
              sqlite_where=text("next_check_at IS NOT NULL")),
        # Counting bets per state and provider (metrics, stats) reads only this index.
        Index("ix_bets_state_provider", "state", "provider"),
        # Reconciliation reads one provider's bets placed in a window.
        Index("ix_bets_provider_placed", "provider", "placed_at"),
        # A feed row wakes the bets of its round.
        Index("ix_bets_provider_round", "provider", "round_ref"),
    )

    id: Mapped[Id]
    provider: Mapped[str] = mapped_column(String(64))
    bet_ref: Mapped[Name]
    # How the provider's calls and history name the bet's round (docs/design.md, "Bets
    # and rounds"): the bet_ref itself, unless the provider names rounds, not bets.
    round_ref: Mapped[str] = mapped_column(String(128), default=_the_bet_ref)
    player_id: Mapped[Name]
    game_id: Mapped[Name]
    round_id: Mapped[Name]
    stake: Mapped[Amount]
    currency: Mapped[str] = mapped_column(String(3))
    placed_at: Mapped[Moment]
    state: Mapped[str] = mapped_column(String(20))
    payout: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    deadline: Mapped[Moment]
    next_check_at: Mapped[MaybeMoment]
    check_attempt: Mapped[int] = mapped_column(Integer, default=1)
    version: Mapped[int] = mapped_column(Integer, default=1)
    duplicate_deliveries: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[Moment]
    updated_at: Mapped[Moment]
    final_at: Mapped[MaybeMoment]


class AuditEvent(Base):
    """One step of a bet's history. Append-only: never updated, never deleted."""

    __tablename__ = "audit_events"

    id: Mapped[Id]
    bet_id: Mapped[BetId]
    at: Mapped[Moment]
    kind: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(128))
    detail: Mapped[dict[str, Any]]


class Review(Base):
    """A question for a person about one bet, and its answer once given."""

    __tablename__ = "reviews"
    __table_args__ = (Index("ix_reviews_open", "resolved_at", "opened_at"),)

    id: Mapped[Id]
    bet_id: Mapped[BetId]
    reason: Mapped[str] = mapped_column(String(20))
    opened_at: Mapped[Moment]
    detail: Mapped[dict[str, Any]]
    resolved_at: Mapped[MaybeMoment]
    resolution: Mapped[str | None] = mapped_column(String(20), nullable=True)
    operator: Mapped[str | None] = mapped_column(String(128), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)


class Notification(Base):
    """An outcome to tell the game server about: an outbox row, written in the same
    transaction as the change it reports, delivered at least once."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_state_next", "state", "next_attempt_at"),)

    id: Mapped[Id]
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    # None for news about a game or a provider rather than one bet (a pause, a resume).
    bet_id: Mapped[int | None] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("bets.id"), index=True,
        nullable=True,
    )
    kind: Mapped[str] = mapped_column(String(30))
    payload: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(12))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[MaybeMoment]
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[Moment]
    delivered_at: Mapped[MaybeMoment]


class SweepStat(Base):
    """How often one kind of sweep (checks, refunds, notifications) ran and how much it
    dispatched. Beat and its worker keep nothing between runs; this row is what shows
    the safety net is alive, and how busy it is, to metrics and alerts."""

    __tablename__ = "sweep_stats"

    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    runs: Mapped[int] = mapped_column(BigInteger, default=0)
    items: Mapped[int] = mapped_column(BigInteger, default=0)
    last_run_at: Mapped[MaybeMoment]
    last_duration_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)


MaybeAmount = Annotated[Decimal | None, mapped_column(Money(), nullable=True)]


class ProviderRow(Base):
    """The mirror of a provider's history feed: one row per record the provider published,
    its newest version. Checks of a provider without a status call read it; the
    reconciliation compares it with the bets."""

    __tablename__ = "provider_rows"
    __table_args__ = (
        UniqueConstraint("provider", "row_id", name="uq_provider_rows_row"),
        Index("ix_provider_rows_ref", "provider", "bet_ref"),
        Index("ix_provider_rows_placed", "provider", "placed_at"),
    )

    id: Mapped[Id]
    provider: Mapped[str] = mapped_column(String(64))
    row_id: Mapped[Name]
    # The provider's name of the record's round: the ``round_ref`` of its bets.
    bet_ref: Mapped[Name]
    feed: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(12))
    version: Mapped[int] = mapped_column(BigInteger)
    stake: Mapped[MaybeAmount]
    payout: Mapped[MaybeAmount]
    currency: Mapped[str | None] = mapped_column(String(3), nullable=True)
    placed_at: Mapped[MaybeMoment]
    settled_at: Mapped[MaybeMoment]
    # Where the record stands in its round (a Hand value), for providers that record a
    # round hand by hand; None: the record is a whole bet.
    hand: Mapped[str | None] = mapped_column(String(12), nullable=True)
    # The provider's id of the call that brought this version (PG's trace_id), if any.
    trace_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    first_seen_at: Mapped[Moment]
    updated_at: Mapped[Moment]


class FeedCursor(Base):
    """Where the pull of one provider feed stands: the cursor to go on from, a lease
    that keeps two pulls of it apart, and when it was last called (its rate limit)."""

    __tablename__ = "feed_cursors"

    provider: Mapped[str] = mapped_column(String(64), primary_key=True)
    feed: Mapped[str] = mapped_column(String(64), primary_key=True)
    cursor: Mapped[str | None] = mapped_column(Text, nullable=True)
    lease_until: Mapped[MaybeMoment]
    last_call_at: Mapped[MaybeMoment]
    last_success_at: Mapped[MaybeMoment]
    # When the copy last caught up: the start of the last successful call that reached
    # the feed's end (not a full page). The mirror holds what the provider had published
    # by then; a decision that must cover a later moment waits (docs/design.md).
    synced_at: Mapped[MaybeMoment]
    pulls: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_seen: Mapped[int] = mapped_column(BigInteger, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


class ReconciliationRun(Base):
    """One comparison of a provider's history with betguard's bets over a window."""

    __tablename__ = "reconciliation_runs"

    id: Mapped[Id]
    provider: Mapped[str] = mapped_column(String(64))
    window_from: Mapped[Moment]
    window_to: Mapped[Moment]
    mode: Mapped[str] = mapped_column(String(12))
    started_at: Mapped[Moment]
    finished_at: Mapped[MaybeMoment]
    counts: Mapped[dict[str, Any]]


class ReconciliationDifference(Base):
    """A difference between the provider's history and betguard's record of one bet,
    with both sides' facts. Open until resolved (automatically when safe, else by a
    person through its review item or, for a bet betguard lacks, here)."""

    __tablename__ = "reconciliation_differences"
    __table_args__ = (
        Index("ix_reconciliation_differences_ref", "provider", "bet_ref"),
        Index("ix_reconciliation_differences_open", "resolved_at", "kind"),
    )

    id: Mapped[Id]
    run_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("reconciliation_runs.id"),
        index=True,
    )
    provider: Mapped[str] = mapped_column(String(64))
    bet_ref: Mapped[Name]
    kind: Mapped[str] = mapped_column(String(20))
    bet_id: Mapped[int | None] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("bets.id"), nullable=True
    )
    here: Mapped[dict[str, Any]]
    there: Mapped[dict[str, Any]]
    found_at: Mapped[Moment]
    resolved_at: Mapped[MaybeMoment]
    resolution: Mapped[str | None] = mapped_column(String(20), nullable=True)
    operator: Mapped[str | None] = mapped_column(String(128), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)


class GamePause(Base):
    """Whether the game server was told to pause a game (``game_id`` "*": every game of
    the provider) because too many of its bets are unreturned."""

    __tablename__ = "game_pauses"

    provider: Mapped[str] = mapped_column(String(64), primary_key=True)
    game_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    paused: Mapped[bool]
    unreturned: Mapped[int] = mapped_column(Integer, default=0)
    changed_at: Mapped[Moment]
    # A person paused it (the console, after an outage): the watcher never resumes it;
    # only a person does. None: the watcher's own pause.
    held_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


class Account(Base):
    """A person who signs in to the operations console, with one role
    (``betguard.models.domain.roles``). Only the password's argon2 hash is kept."""

    __tablename__ = "accounts"

    id: Mapped[Id]
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[Moment]
    password_changed_at: Mapped[Moment]
    disabled_at: Mapped[MaybeMoment]
    # Wrong passwords in a row; at the limit the account is locked until `locked_until`.
    failed_sign_ins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[MaybeMoment]


class ConsoleSession(Base):
    """A signed-in browser. The cookie holds a random token; only its SHA-256 is kept,
    with the session's CSRF token and its idle and absolute expiry."""

    __tablename__ = "console_sessions"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("accounts.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[Moment]
    last_seen_at: Mapped[Moment]
    ended_at: Mapped[MaybeMoment]


class AccessEvent(Base):
    """The console's audit log: every sign-in (and refused one), sign-out, account change
    and decision, with who, when and from where. Append-only."""

    __tablename__ = "access_events"
    __table_args__ = (Index("ix_access_events_account", "account", "at"),
                      Index("ix_access_events_address", "address", "at"))

    id: Mapped[Id]
    at: Mapped[Moment] = mapped_column(UTCDateTime(), index=True)
    account: Mapped[str] = mapped_column(String(64))  # the name given, even if unknown
    action: Mapped[str] = mapped_column(String(40))
    address: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]]


class Proposal(Base):
    """A decision that needs a second person (four eyes): proposed by one account,
    approved or rejected by another, void once the bet moved on, expired after its time.
    At most one open proposal per bet."""

    __tablename__ = "proposals"
    __table_args__ = (
        Index("ix_proposals_state", "state", "proposed_at"),
        Index("uq_proposals_one_open_per_bet", "bet_id", unique=True,
              postgresql_where=text("state = 'open'"), sqlite_where=text("state = 'open'")),
    )

    id: Mapped[Id]
    bet_id: Mapped[BetId]
    resolution: Mapped[str] = mapped_column(String(20))
    amount: Mapped[Amount]  # what the decision puts at stake, compared with the threshold
    detail: Mapped[dict[str, Any]]  # the decision: note, payout, deadline, reference
    proposed_by: Mapped[str] = mapped_column(String(64))
    proposed_at: Mapped[Moment]
    expires_at: Mapped[Moment]
    state: Mapped[str] = mapped_column(String(12))
    decided_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    decided_at: Mapped[MaybeMoment]
    decision_note: Mapped[str | None] = mapped_column(Text, nullable=True)


class BulkJob(Base):
    """A person's bulk re-check of a provider's pending bets placed in a time range:
    each bet's next check is set to a slot paced at the provider's rate limit, so the
    backlog drains at a pace the provider can take; its bets are listed in
    ``bulk_job_bets`` for the job's progress."""

    __tablename__ = "bulk_jobs"

    id: Mapped[Id]
    kind: Mapped[str] = mapped_column(String(20))
    provider: Mapped[str] = mapped_column(String(64))
    placed_from: Mapped[Moment]
    placed_to: Mapped[Moment]
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[Moment]
    note: Mapped[str] = mapped_column(Text)
    total: Mapped[int] = mapped_column(Integer)
    in_flight: Mapped[int] = mapped_column(Integer)  # already at the provider: not re-ordered
    last_slot_at: Mapped[Moment]  # when the last bet's check is due


class BulkJobBet(Base):
    __tablename__ = "bulk_job_bets"

    job_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("bulk_jobs.id"),
        primary_key=True)
    bet_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("bets.id"), primary_key=True)
