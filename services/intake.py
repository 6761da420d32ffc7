"""Intake: register bets durably, idempotent on (provider, reference), then wake their checks.

``place_bet`` registers one bet; ``place_bets`` registers many in one transaction
(one multi-row INSERT, the events in bulk), answering for each item exactly as
``place_bet`` would. Wake-ups are published only after the commit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
)
from pydantic.config import JsonDict

from betguard.models.domain import refs, schedule, times, transitions
from betguard.models.domain.errors import BetguardError, ConflictingBet, InvalidBet
from betguard.models.domain.events import EventKind
from betguard.models.domain.money import is_plain_decimal
from betguard.models.domain.snapshot import BetSnapshot
from betguard.models.domain.transitions import NewEvent
from betguard.models.store import bet_queries, bulk
from betguard.models.store.db import Connection
from betguard.providers.pragmatic_wire import RoundFieldError
from betguard.providers.registry import round_of
from betguard.services.context import Context
from betguard.services.wakeups import DueCheck, wake_checks

Identifier = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@/-]+$")]
# The characters in pydantic's core, the rest of the rule after them (models/domain/refs.py);
# the document states the whole rule as one pattern.
BetRef = Annotated[
    str,
    Field(min_length=1, max_length=refs.MAX_LENGTH, pattern=refs.CHARACTERS_PATTERN,
          json_schema_extra={"pattern": refs.PATTERN}),
    AfterValidator(refs.check_bet_ref),
]


def _state_the_calendar(schema: JsonDict) -> None:
    branches = schema.get("anyOf")
    for branch in branches if isinstance(branches, list) else [schema]:
        if isinstance(branch, dict) and branch.get("type") == "string":
            branch["pattern"] = times.PATTERN


# A time a client sends (a bet's placed_at, a re-check's deadline), or none.
ClientTime = Annotated[
    AwareDatetime | None,
    BeforeValidator(times.written_as_rfc_3339),
    AfterValidator(times.within_calendar),
    Field(json_schema_extra=_state_the_calendar),
]
COMPARED_FIELDS = ("player_id", "game_id", "round_id", "stake", "currency")


def _plain_money(value: object) -> object:
    # A float is already inexact when it arrives: money travels as a decimal string,
    # written plainly (no exponents, underscores, non-ASCII digits or stray spaces).
    # A whole number too: the document says a string (its "integer" would also be 10.0).
    if isinstance(value, float):
        raise ValueError('send money as a decimal string like "12.50", not a float')
    if isinstance(value, int):
        raise ValueError('send money as a decimal string like "12.50", not a number')
    if isinstance(value, str) and not is_plain_decimal(value):
        raise ValueError('must be a plain decimal like "12.50"')
    return value


class PlaceBet(BaseModel):
    """A bet as the game server registers it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: Annotated[str, Field(min_length=1, max_length=64)]
    bet_ref: BetRef
    player_id: Identifier
    game_id: Identifier
    round_id: Identifier
    # The constraints before the validator: so pydantic checks them in its compiled core
    # (after it, each became a Python function, the dearest part of validating a bet).
    stake: Annotated[
        Decimal,
        Field(gt=0, max_digits=18, decimal_places=4, allow_inf_nan=False),
        BeforeValidator(_plain_money),
    ]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    placed_at: ClientTime = None


@dataclass(frozen=True)
class Placed:
    bet: BetSnapshot
    created: bool


@dataclass(frozen=True)
class ItemResult:
    """What became of one item of a batch: ``bet`` when it was placed or existed,
    ``error`` (naming the fields) when it was refused."""

    index: int
    status: Literal["created", "exists", "conflict", "invalid"]
    bet: BetSnapshot | None = None
    error: BetguardError | None = None


@dataclass(frozen=True)
class NewBet:
    command: PlaceBet
    row: dict[str, Any]
    key: tuple[str, str]  # (provider, bet_ref)

    @property
    def detail(self) -> dict[str, Any]:
        """The ``bet_placed`` event's detail."""
        return {"stake": str(self.command.stake), "currency": self.command.currency,
                "deadline": self.row["deadline"].isoformat(),
                "first_check_at": self.row["next_check_at"].isoformat()}


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
    new = new_bet(ctx, command, ctx.clock())
    placed = register(ctx, [new])[0]
    if isinstance(placed, ConflictingBet):
        raise placed
    return placed


def place_bets(ctx: Context, payloads: Sequence[Mapping[str, Any] | PlaceBet]) -> list[ItemResult]:
    """Register many bets in one transaction. Each item is answered on its own, exactly
    as ``place_bet`` would: created, exists (the same bet again), conflict (another
    payload under that reference) or invalid (naming each bad field)."""
    now = ctx.clock()
    results: dict[int, ItemResult] = {}
    wanted: list[tuple[int, NewBet]] = []
    for index, payload in enumerate(payloads):
        try:
            command = payload if isinstance(payload, PlaceBet) else parse_bet(payload)
            wanted.append((index, new_bet(ctx, command, now)))
        except BetguardError as exc:
            results[index] = ItemResult(index, "invalid", error=exc)
    for (index, _), placed in zip(wanted, register(ctx, [new for _, new in wanted]),
                                  strict=True):
        if isinstance(placed, ConflictingBet):
            results[index] = ItemResult(index, "conflict", error=placed)
        else:
            results[index] = ItemResult(index, "created" if placed.created else "exists",
                                        bet=placed.bet)
    return [results[index] for index in range(len(payloads))]


def new_bet(ctx: Context, command: PlaceBet, now: datetime) -> NewBet:
    policy = ctx.policy(command.provider)
    try:
        round_ref = round_of(policy.adapter, bet_ref=command.bet_ref,
                             game_id=command.game_id, round_id=command.round_id)
    except RoundFieldError as exc:
        raise InvalidBet([(exc.field, f"{exc.message}: provider {command.provider} names "
                                      "the bet's round by its game_id and round_id")]) from None
    placed_at = command.placed_at or now
    deadline = placed_at + timedelta(seconds=policy.deadline)
    first_check = max(schedule.first_check_at(policy, placed_at, deadline), now)
    row = {
        "provider": command.provider, "bet_ref": command.bet_ref, "round_ref": round_ref,
        "player_id": command.player_id, "game_id": command.game_id,
        "round_id": command.round_id, "stake": command.stake, "currency": command.currency,
        "placed_at": placed_at, "deadline": deadline, "duplicate_deliveries": 0,
        "created_at": now, "updated_at": now, **transitions.place(first_check_at=first_check),
    }
    return NewBet(command, row, (command.provider, command.bet_ref))


def register(ctx: Context, bets: Sequence[NewBet]) -> list[Placed | ConflictingBet]:
    """Insert the new bets, read the ones that exist; then wake the new ones' checks."""
    now = ctx.clock()
    unique: dict[tuple[str, str], NewBet] = {}
    for new in bets:
        unique.setdefault(new.key, new)  # a reference repeated in a batch is placed once
    created, existing = _store(ctx, list(unique.values()), now)
    wake_checks(ctx, [DueCheck(bet.id, bet.check_attempt, bet.provider, bet.label,
                               bet.next_check_at or now) for bet in created.values()])
    answers: list[Placed | ConflictingBet] = []
    answered: set[tuple[str, str]] = set()
    for new in bets:
        fresh = new.key in created and new.key not in answered
        answered.add(new.key)
        bet = created.get(new.key) or existing[new.key]
        answers.append(Placed(bet, created=True) if fresh else _same_or_conflict(new, bet))
    return answers


def _store(ctx: Context, bets: Sequence[NewBet], now: datetime,
           ) -> tuple[dict[tuple[str, str], BetSnapshot], dict[tuple[str, str], BetSnapshot]]:
    """The bets this call created, and those that existed, by key: in one transaction,
    run again through a lost connection. A run after one whose COMMIT answer was lost
    finds that run's bets existing: they are told from another request's by the
    ``created_at`` this call wrote (its idempotency key is the bet's reference), so the
    game server hears "created" once and the bets are stored once."""
    tries = 0

    def store() -> tuple[dict[tuple[str, str], BetSnapshot], dict[tuple[str, str], BetSnapshot]]:
        nonlocal tries
        tries += 1
        with ctx.db.transaction() as connection:
            created = _insert(connection, bets, now)
            existing = bet_queries.snapshots_by_keys(
                connection, [new.key for new in bets if new.key not in created])
            if tries > 1 and existing:
                created.update(_written_by_us(connection, bets, existing))
        return created, existing

    return ctx.db.retry(store)


def _written_by_us(connection: Connection, bets: Sequence[NewBet],
                   existing: dict[tuple[str, str], BetSnapshot],
                   ) -> dict[tuple[str, str], BetSnapshot]:
    """The bets of ``existing`` (taken out of it) that an earlier run of this call wrote."""
    stamps = bet_queries.created_at_by_keys(connection, list(existing))
    ours = {new.key for new in bets
            if new.key in existing and stamps.get(new.key) == new.row["created_at"]}
    return {key: existing.pop(key) for key in ours}


def _insert(connection: Connection, bets: Sequence[NewBet],
            now: datetime) -> dict[tuple[str, str], BetSnapshot]:
    """The bets that were new, as inserted with their ``bet_placed`` event (a reference
    that exists is left alone)."""
    placed = [(new.row, NewEvent(EventKind.BET_PLACED, "game-server", new.detail))
              for new in bets]
    ids = bulk.insert_placed_bets(connection, placed, now=now)
    return {new.key: BetSnapshot.of_row({**new.row, "id": bet_id})
            for new, bet_id in zip(bets, ids, strict=True) if bet_id is not None}


def _same_or_conflict(new: NewBet, bet: BetSnapshot) -> Placed | ConflictingBet:
    differing = [f for f in COMPARED_FIELDS if getattr(bet, f) != getattr(new.command, f)]
    if differing:
        return ConflictingBet(new.command.provider, new.command.bet_ref, differing)
    return Placed(bet, created=False)


