"""The OpenAPI document's patterns state the rules the code enforces: a value matches
the pattern exactly when the intake or the API takes it (a schema fuzzer checks the
running API; these check each rule on the values at its edges)."""

from __future__ import annotations

import re
import sys
from datetime import date, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from betguard.api.schemas import ResolveIn
from betguard.models.domain.errors import BetguardError
from betguard.models.domain.money import PAYOUT_PATTERN, STAKE_PATTERN
from betguard.models.domain.refs import PATTERN as REF_PATTERN
from betguard.models.domain.times import PATTERN as TIME_PATTERN
from betguard.services.intake import parse_bet
from betguard.services.operator_text import TEXT_PATTERN, require_text
from betguard.services.results import parse_payout

BET: dict[str, Any] = {"provider": "acme", "bet_ref": "b-1", "player_id": "p-1",
                       "game_id": "g-1", "round_id": "r-1", "stake": "10.50", "currency": "EUR"}
REFS = ["a", "a/b", "/a", "a//b", "a/", "...", "a.b", "a/.b", "result", "a/results",
        "a/result/", "x/recheck/y", ".", "..", "a/.", "./a", "a/../b", "a/result",
        "a/b/resolve", "x/recheck", "a b", "a%2Fb", "é", "a" * 128, "a" * 129]
AMOUNTS = ["0", "-0", "0.00", "1", "-1", "0.0001", "0.00001", "12.50", "1e3", "1_000",
           " 1", "1.", ".5", "99999999999999.9999", "100000000000000", "１"]


def takes(check: Any, *args: Any) -> bool:
    try:
        check(*args)
    except (BetguardError, ValidationError):
        return False
    return True


@pytest.mark.parametrize("ref", REFS)
def test_a_bet_ref_matches_the_documented_pattern_exactly_when_the_intake_takes_it(
    ref: str,
) -> None:
    documented = re.fullmatch(REF_PATTERN, ref) is not None and len(ref) <= 128

    assert takes(parse_bet, {**BET, "bet_ref": ref}) is documented


@pytest.mark.parametrize("amount", AMOUNTS)
def test_a_payout_and_a_stake_match_their_patterns_exactly_when_they_are_taken(
    amount: str,
) -> None:
    assert takes(parse_payout, amount) is (re.fullmatch(PAYOUT_PATTERN, amount) is not None)
    assert takes(parse_bet, {**BET, "stake": amount}) is (
        re.fullmatch(STAKE_PATTERN, amount) is not None)


def test_the_time_pattern_admits_every_real_date_of_2000_to_2099_and_nothing_else() -> None:
    real, day = set(), date(1999, 12, 1)
    while day < date(2100, 2, 1):
        real.add(day.isoformat())
        day += timedelta(days=1)
    written = [f"{year}-{month:02d}-{mday:02d}" for year in (1999, *range(2000, 2101))
               for month in range(0, 14) for mday in range(0, 33)]

    wrong = [d for d in written if (re.match(TIME_PATTERN, d + "T12:00:00Z") is not None)
             is not (d in real and "2000" <= d < "2100")]

    assert wrong == []


@pytest.mark.parametrize("moment", [
    "2030-01-31T12:00:00Z", "2030-01-31t12:00:00z", "2030-01-31T12:00:00.1234567+05:30",
    "2000-01-01T00:00:00Z", "2099-12-31T23:59:59Z", "2099-12-31T23:59:59+23:59",
    "1999-12-31T23:59:59Z", "2100-01-01T00:00:00Z", "2030-01-31 12:00:00Z",
    "2030-01-31T12:00Z", "2030-01-31T12:00:00", "2030-01-31", "1900000000",
    "2030-02-29T12:00:00Z", "2032-02-29T12:00:00Z", "2030-01-31T24:00:00Z",
    "2030-01-31T12:00:60Z", "2030-01-31T12:00:00+24:00",
])
def test_a_time_matches_the_pattern_exactly_when_the_intake_and_the_api_take_it(
    moment: str,
) -> None:
    documented = re.match(TIME_PATTERN, moment) is not None
    decision = {"resolution": "recheck", "note": "later", "deadline": moment}

    assert takes(parse_bet, {**BET, "placed_at": moment}) is documented
    assert takes(ResolveIn.model_validate, decision) is documented


def test_a_time_that_is_not_a_string_is_refused() -> None:
    assert not takes(parse_bet, {**BET, "placed_at": 1_900_000_000})
    assert not takes(ResolveIn.model_validate,
                     {"resolution": "recheck", "note": "later", "deadline": 1_900_000_000})


def test_free_text_matches_the_pattern_exactly_when_it_is_taken() -> None:
    codes = [*range(0x3001), 0xFEFF, 0x10FFFF]  # white space ends at U+3000
    assert not any(chr(code).isspace() for code in range(0x3001, sys.maxunicode + 1))
    wrong = [hex(code) for code in codes
             for text in (chr(code), "a" + chr(code), " " + chr(code) + " ")
             if (re.match(TEXT_PATTERN, text) is not None) is not takes(require_text, text, "note")]

    assert wrong == []
