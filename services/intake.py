"""Intake: register a bet durably, idempotent on (provider, reference), then wake its check."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)
from sqlalchemy.exc import IntegrityError

from models import repository, schedule
from models.errors import ConflictingBet, InvalidBet
from models.events import EventKind
from models.snapshot import BetSnapshot
from models.states import BetState
from models.tables import Bet
from models.transitions import NewEvent
from services.context import Context

Identifier = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@/-]+$")]
COMPARED_FIELDS = ("player_id", "game_id", "round_id", "stake", "currency")
# Beyond these a timestamp is a mistake, and deadlines computed from it would overflow.
EARLIEST, LATEST = datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)


def _no_float(value: object) -> object:
    # A float is already inexact when it arrives: money travels as a decimal string.
    if isinstance(value, float):
        raise ValueError('send money as a decimal string like "12.50", not a float')
    return value


class PlaceBet(BaseModel):
    """A bet as the game server registers it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: Annotated[str, Field(min_length=1, max_length=64)]
    bet_ref: Identifier
    player_id: Identifier
    game_id: Identifier
    round_id: Identifier
    stake: Annotated[
        Decimal,
        BeforeValidator(_no_float),
        Field(gt=0, max_digits=18, decimal_places=4, allow_inf_nan=False),
    ]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    placed_at: AwareDatetime | None = None

    @field_validator("placed_at")
    @classmethod
    def _plausible(cls, value: datetime | None) -> datetime | None:
        if value is not None and not EARLIEST <= value <= LATEST:
            raise ValueError("must be between the years 2000 and 2100")
        return value


@dataclass(frozen=True)
class Placed:
    bet: BetSnapshot
    created: bool


def parse_bet(payload: Mapping[str, Any]) -> PlaceBet:
    """Validate a raw bet; the error names every bad field."""
    if not isinstance(payload, Mapping):
        raise InvalidBet([("(body)", f"expected an object, got {type(payload).__name__}")])
    try:
        return PlaceBet.model_validate(dict(payload))
    except ValidationError as exc:
        raise InvalidBet(
            [(".".join(str(p) for p in e["loc"]) or "(body)", e["msg"]) for e in exc.errors()]
        ) from exc


def place_bet(ctx: Context, payload: Mapping[str, Any] | PlaceBet) -> Placed:
    """Register a bet. The same bet again returns the existing one; a different
    payload under the same reference raises ``ConflictingBet`` naming the fields."""
    command = payload if isinstance(payload, PlaceBet) else parse_bet(payload)
    policy = ctx.policy(command.provider)
    now = ctx.clock()
    placed_at = command.placed_at or now
    deadline = placed_at + timedelta(seconds=policy.deadline)
    first_check = max(schedule.first_check_at(policy, placed_at, deadline), now)
    try:
        bet = _insert(ctx, command, placed_at, deadline, first_check, now)
    except IntegrityError:
        return Placed(_existing(ctx, command), created=False)
    ctx.scheduler.check(bet.id, bet.check_attempt, first_check, label=bet.label)
    return Placed(bet, created=True)


def _insert(
    ctx: Context, command: PlaceBet, placed_at: datetime, deadline: datetime,
    first_check: datetime, now: datetime,
) -> BetSnapshot:
    with ctx.db.unit_of_work() as session:
        bet = Bet(
            provider=command.provider, bet_ref=command.bet_ref, player_id=command.player_id,
            game_id=command.game_id, round_id=command.round_id, stake=command.stake,
            currency=command.currency, placed_at=placed_at, state=BetState.PENDING.value,
            deadline=deadline, next_check_at=first_check, check_attempt=1, version=1,
            duplicate_deliveries=0, created_at=now, updated_at=now,
        )
        session.add(bet)
        session.flush()
        detail = {"stake": str(command.stake), "currency": command.currency,
                  "deadline": deadline.isoformat(), "first_check_at": first_check.isoformat()}
        repository.add_events(
            session, bet.id, [NewEvent(EventKind.BET_PLACED, "game-server", detail)], now=now
        )
        session.commit()
        return BetSnapshot.of(bet)


def _existing(ctx: Context, command: PlaceBet) -> BetSnapshot:
    with ctx.db.unit_of_work() as session:
        bet = repository.get_by_ref(session, command.provider, command.bet_ref)
    differing = [f for f in COMPARED_FIELDS if getattr(bet, f) != getattr(command, f)]
    if differing:
        raise ConflictingBet(command.provider, command.bet_ref, differing)
    return bet
