"""Bad input never corrupts: a malformed bet or payout is refused naming the field."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from betguard.models.domain.errors import BetguardError, InvalidBet, InvalidCommand
from betguard.services.intake import parse_bet
from betguard.services.results import MAX_PAYOUT, parse_payout

GOOD_BET: dict[str, Any] = {
    "provider": "acme",
    "bet_ref": "b-2026:0001",
    "player_id": "player@42",
    "game_id": "slots/7",
    "round_id": "r.1",
    "stake": "10.50",
    "currency": "EUR",
}


def refused_fields(payload: Any) -> list[str]:
    with pytest.raises(InvalidBet) as refused:
        parse_bet(payload)
    return refused.value.fields


# --- bets -----------------------------------------------------------------------


def test_a_well_formed_bet_is_accepted_with_an_exact_stake() -> None:
    bet = parse_bet(GOOD_BET)
    assert bet.stake == Decimal("10.50")
    assert bet.currency == "EUR"
    assert bet.placed_at is None


def test_a_bet_may_say_when_it_was_placed() -> None:
    bet = parse_bet({**GOOD_BET, "placed_at": "2026-01-01T00:00:00Z"})
    assert bet.placed_at == datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("stake", ["0.0001", "1", "99999999999999.9999"])
def test_a_stake_with_up_to_four_decimals_is_accepted(stake: str) -> None:
    assert parse_bet({**GOOD_BET, "stake": stake}).stake == Decimal(stake)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("stake", "0"),
        ("stake", "-5.00"),
        ("stake", "1.00001"),
        ("stake", "NaN"),
        ("stake", "Infinity"),
        ("stake", "ten"),
        ("stake", True),
        ("stake", None),
        ("currency", "eur"),
        ("currency", "EURO"),
        ("currency", ""),
        ("bet_ref", ""),
        ("bet_ref", "b 1"),
        ("bet_ref", "x" * 129),
        ("player_id", ""),
        ("game_id", "g\n1"),
        ("round_id", 17),
        ("provider", ""),
        ("placed_at", "2026-01-01T00:00:00"),
        ("placed_at", "last tuesday"),
    ],
)
def test_a_bad_field_is_refused_by_name(field: str, value: object) -> None:
    assert refused_fields({**GOOD_BET, field: value}) == [field]


@pytest.mark.parametrize("field", ["provider", "bet_ref", "stake", "currency"])
def test_a_missing_field_is_refused_by_name(field: str) -> None:
    payload = {key: value for key, value in GOOD_BET.items() if key != field}
    assert refused_fields(payload) == [field]


def test_an_unknown_extra_field_is_refused_by_name() -> None:
    assert refused_fields({**GOOD_BET, "bonus": "yes"}) == ["bonus"]


def test_every_bad_field_is_named_in_one_refusal() -> None:
    payload = {**GOOD_BET, "stake": "-1", "currency": "eur", "bet_ref": ""}
    with pytest.raises(InvalidBet) as refused:
        parse_bet(payload)
    assert sorted(refused.value.fields) == ["bet_ref", "currency", "stake"]
    message = str(refused.value)
    assert message.startswith("invalid bet: ")
    assert all(f"{field}: " in message for field in ("stake", "currency", "bet_ref"))


@pytest.mark.parametrize("payload", [["acme", "b-1"], "acme/b-1", None, 42])
def test_a_payload_that_is_not_an_object_is_refused_as_a_whole(payload: object) -> None:
    with pytest.raises(InvalidBet, match=r"\(body\): expected an object") as refused:
        parse_bet(payload)  # type: ignore[arg-type]
    assert refused.value.fields == ["(body)"]


def test_a_refused_bet_is_a_domain_refusal_not_a_crash() -> None:
    assert issubclass(InvalidBet, BetguardError)


# --- payouts --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120.50", Decimal("120.50")),
        ("0", Decimal("0")),
        ("0.0001", Decimal("0.0001")),
        (7, Decimal("7")),
        (Decimal("3.25"), Decimal("3.25")),
        ("99999999999999.9999", Decimal("99999999999999.9999")),
    ],
)
def test_a_payout_given_as_a_decimal_string_or_integer_is_accepted_exactly(
    value: object, expected: Decimal
) -> None:
    assert parse_payout(value) == expected


@pytest.mark.parametrize("value", ["-0.01", "-1", -1, Decimal("-5")])
def test_a_negative_payout_is_refused(value: object) -> None:
    with pytest.raises(InvalidCommand, match="payout: .* must be between 0"):
        parse_payout(value)


@pytest.mark.parametrize("value", ["NaN", "sNaN", "Infinity", "-Infinity", Decimal("NaN")])
def test_a_payout_that_is_not_a_finite_number_is_refused(value: object) -> None:
    with pytest.raises(InvalidCommand, match="payout: "):
        parse_payout(value)


@pytest.mark.parametrize("value", [MAX_PAYOUT, "100000000000000", "1e20"])
def test_a_payout_at_or_above_the_maximum_is_refused(value: object) -> None:
    with pytest.raises(InvalidCommand, match="must be between 0"):
        parse_payout(value)


@pytest.mark.parametrize("value", [True, False])
def test_a_boolean_payout_is_refused_though_python_counts_it_as_an_integer(value: bool) -> None:
    with pytest.raises(InvalidCommand, match="expected a decimal string"):
        parse_payout(value)


@pytest.mark.parametrize("value", [12.5, 0.1, 1.0])
def test_a_float_payout_is_refused_even_when_it_looks_exact(value: float) -> None:
    with pytest.raises(InvalidCommand, match="expected a decimal string"):
        parse_payout(value)


@pytest.mark.parametrize("value", [None, [], {"amount": "1"}, b"12.50"])
def test_a_payout_of_another_type_is_refused(value: object) -> None:
    with pytest.raises(InvalidCommand, match="expected a decimal string"):
        parse_payout(value)


@pytest.mark.parametrize("value", ["twelve", "", "12,50", "1.2.3"])
def test_a_string_that_is_not_a_number_is_refused(value: str) -> None:
    with pytest.raises(InvalidCommand, match="is not a decimal number"):
        parse_payout(value)


@pytest.mark.parametrize("value", ["1.23456", "0.00001", "1e-5", "120.50000"])
def test_a_payout_with_more_than_four_decimals_is_refused(value: str) -> None:
    with pytest.raises(InvalidCommand, match="more than 4 decimal places"):
        parse_payout(value)
