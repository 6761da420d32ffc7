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

from models.types import Money, UTCDateTime

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
    )

    id: Mapped[Id]
    provider: Mapped[str] = mapped_column(String(64))
    bet_ref: Mapped[Name]
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
    bet_id: Mapped[BetId]
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
