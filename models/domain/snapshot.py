"""An immutable view of a bet as read at one moment, carrying the version to compare against."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from typing import Any

from betguard.models.domain.states import BetState


@dataclass(frozen=True)
class BetSnapshot:
    id: int
    provider: str
    bet_ref: str
    round_ref: str  # the provider's name of the bet's round (the bet_ref: a round of its own)
    player_id: str
    game_id: str
    round_id: str
    stake: Decimal
    currency: str
    placed_at: datetime
    state: BetState
    payout: Decimal | None
    deadline: datetime
    next_check_at: datetime | None
    check_attempt: int
    version: int

    @classmethod
    def of(cls, record: object) -> BetSnapshot:
        """From an object with an attribute per field, such as a ``Bet`` row read by
        persistence (``betguard.models.store.tables``): the domain names no table."""
        return cls.of_row({name: getattr(record, name) for name in SNAPSHOT_FIELDS})

    @classmethod
    def of_row(cls, row: Mapping[Any, Any]) -> BetSnapshot:
        """From a result row holding the columns named in ``SNAPSHOT_FIELDS``."""
        values = {name: row[name] for name in SNAPSHOT_FIELDS}
        values["state"] = BetState(values["state"])
        return cls(**values)

    @property
    def label(self) -> str:
        """How logs and task names refer to the bet: ``provider/bet_ref``."""
        return f"{self.provider}/{self.bet_ref}"


# The columns a snapshot is read from, in the order of its fields.
SNAPSHOT_FIELDS = tuple(f.name for f in fields(BetSnapshot))
