"""One span of accepted instants: the intake and the API refuse exactly the same times.

The span runs from EARLIEST included to LATEST excluded, whatever offset a time is
written with; a bet's ``placed_at`` and a re-check's ``deadline`` follow the same rule.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from betguard.api.schemas import ResolveIn
from betguard.models.domain.errors import InvalidBet
from betguard.models.domain.events import Resolution
from betguard.models.domain.times import EARLIEST, LATEST
from betguard.services.intake import parse_bet

BET: dict[str, Any] = {"provider": "acme", "bet_ref": "b-1", "player_id": "p-1",
                       "game_id": "g-1", "round_id": "r-1", "stake": "10.50", "currency": "EUR"}
TICK = timedelta(microseconds=1)
EAST, WEST = timezone(timedelta(hours=2)), timezone(-timedelta(hours=23, minutes=59))

BOUNDARIES = [
    pytest.param(EARLIEST - TICK, False, id="just before EARLIEST"),
    pytest.param(EARLIEST, True, id="EARLIEST itself"),
    pytest.param(EARLIEST.astimezone(EAST), True, id="EARLIEST written east of UTC"),
    pytest.param(LATEST - TICK, True, id="just before LATEST"),
    pytest.param(LATEST, False, id="LATEST itself"),
    pytest.param(datetime(2099, 12, 31, 23, 59, tzinfo=WEST), False,
                 id="a 2099 local time that is past LATEST in UTC"),
]


def intake_accepts(moment: datetime) -> bool:
    try:
        parse_bet({**BET, "placed_at": moment.isoformat()})
    except InvalidBet as refused:
        assert refused.fields == ["placed_at"]
        return False
    return True


def api_accepts(moment: datetime) -> bool:
    decision = {"resolution": Resolution.RECHECK.value, "note": "later",
                "deadline": moment.isoformat()}
    try:
        ResolveIn.model_validate(decision)
    except ValidationError as refused:
        assert [error["loc"] for error in refused.errors()] == [("deadline",)]
        return False
    return True


@pytest.mark.parametrize(("moment", "accepted"), BOUNDARIES)
def test_the_intake_and_the_api_accept_exactly_the_same_instants(
    moment: datetime, accepted: bool,
) -> None:
    assert intake_accepts(moment) is accepted
    assert api_accepts(moment) is accepted


def test_a_refused_time_is_told_the_span_it_must_lie_in() -> None:
    with pytest.raises(InvalidBet, match="2000 to 2099"):
        parse_bet({**BET, "placed_at": LATEST.isoformat()})
