"""Reading the console's forms and filters (``betguard.api.console.forms``): good values
come back typed, every bad one is refused with a message that starts with its field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from betguard.api.console import forms
from betguard.models.domain.errors import InvalidCommand
from betguard.models.domain.events import Resolution
from betguard.services.operator_text import MAX_TEXT


def refusal(read: object, *args: object, **kwargs: object) -> str:
    """The message of the InvalidCommand that ``read(*args, **kwargs)`` raises."""
    assert callable(read)
    with pytest.raises(InvalidCommand) as refused:
        read(*args, **kwargs)
    return str(refused.value)


# text


def test_a_text_comes_back_without_its_surrounding_spaces() -> None:
    assert forms.text({"note": "  checked with the provider \n"}, "note") == \
        "checked with the provider"


def test_a_text_at_the_limit_is_read() -> None:
    assert forms.text({"note": "x" * MAX_TEXT}, "note") == "x" * MAX_TEXT


@pytest.mark.parametrize("form", [{}, {"note": ""}, {"note": "   \t\n"}, {"note": None},
                                  {"note": 42}, {"note": ["a"]}])
def test_a_required_text_that_is_missing_empty_or_not_text_is_refused(
        form: dict[str, object]) -> None:
    assert refusal(forms.text, form, "note") == "note: must not be empty"


@pytest.mark.parametrize("form", [{}, {"ref": ""}, {"ref": "  "}, {"ref": 7}])
def test_an_optional_text_that_is_missing_or_empty_reads_as_none(
        form: dict[str, object]) -> None:
    assert forms.text(form, "ref", required=False) is None


def test_a_text_over_the_limit_is_refused_naming_the_limit() -> None:
    assert refusal(forms.text, {"note": "x" * (MAX_TEXT + 1)}, "note") == \
        f"note: at most {MAX_TEXT} characters, no NUL character"


def test_a_text_over_a_smaller_limit_is_refused_naming_that_limit() -> None:
    assert refusal(forms.text, {"ref": "x" * 129}, "ref", required=False, limit=128) == \
        "ref: at most 128 characters, no NUL character"


@pytest.mark.parametrize("value", ["\x00", "bad\x00note", "note\x00 "])
def test_a_text_with_a_nul_character_is_refused(value: str) -> None:
    assert refusal(forms.text, {"note": value}, "note").startswith("note: ")


def test_an_optional_text_with_a_nul_character_is_refused_too() -> None:
    assert refusal(forms.text, {"ref": "b-1\x00"}, "ref", required=False).startswith("ref: ")


@given(st.text(alphabet=st.characters(blacklist_characters="\x00"), max_size=MAX_TEXT))
def test_any_text_without_nul_within_the_limit_reads_stripped_or_as_empty(value: str) -> None:
    if value.strip():
        assert forms.text({"note": value}, "note") == value.strip()
    else:
        assert forms.text({"note": value}, "note", required=False) is None


# amount


@pytest.mark.parametrize(("raw", "value"), [
    ("12.50", Decimal("12.50")), ("0", Decimal("0")), (" 7 ", Decimal("7")),
    ("0.125", Decimal("0.125")), ("1000000", Decimal("1000000")),
])
def test_an_amount_is_read_as_an_exact_decimal(raw: str, value: Decimal) -> None:
    read = forms.amount({"payout": raw}, "payout")
    assert read == value and str(read) == str(value)


@pytest.mark.parametrize("form", [{}, {"payout": ""}, {"payout": "  "}])
def test_an_optional_amount_left_empty_reads_as_none(form: dict[str, object]) -> None:
    assert forms.amount(form, "payout") is None


def test_a_required_amount_left_empty_is_refused() -> None:
    assert refusal(forms.amount, {}, "payout", required=True) == "payout: must not be empty"


@pytest.mark.parametrize("raw", ["abc", "12,50", "12.50 EUR", "1.2.3", "--1", "0x10"])
def test_what_is_not_a_number_is_refused_as_no_amount(raw: str) -> None:
    assert refusal(forms.amount, {"payout": raw}, "payout") == \
        f"payout: {raw!r} is not an amount such as 12.50"


@pytest.mark.parametrize("raw", ["-0.01", "-12.50", "-1e3"])
def test_a_negative_amount_is_refused(raw: str) -> None:
    assert refusal(forms.amount, {"payout": raw}, "payout") == \
        f"payout: {raw!r} is not an amount such as 12.50"


@pytest.mark.parametrize("raw", ["NaN", "nan", "sNaN", "-NaN", "Infinity", "inf", "-Infinity"])
def test_not_a_number_and_infinity_are_refused(raw: str) -> None:
    assert refusal(forms.amount, {"payout": raw}, "payout") == \
        f"payout: {raw!r} is not an amount such as 12.50"


def test_an_amount_longer_than_forty_characters_is_refused() -> None:
    assert refusal(forms.amount, {"payout": "1" * 41}, "payout") == \
        "payout: at most 40 characters, no NUL character"


def test_an_amount_with_a_nul_character_is_refused() -> None:
    assert refusal(forms.amount, {"payout": "12\x00"}, "payout").startswith("payout: ")


@pytest.mark.parametrize("raw", ["1e999", "1E+26", "1000000000000000", "-0", "1_000", "+5",
                                 "١٢", "12.34567"])
def test_an_absurdly_large_amount_is_refused(raw: str) -> None:
    assert refusal(forms.amount, {"payout": raw}, "payout").startswith("payout: ")


@given(st.decimals(min_value=0, max_value=10**12, places=2,
                   allow_nan=False, allow_infinity=False))
def test_any_amount_of_cents_reads_back_as_itself(value: Decimal) -> None:
    assert forms.amount({"payout": f"{value:f}"}, "payout") == value


@given(st.decimals(max_value=Decimal("-0.01"), places=2, allow_nan=False,
                   allow_infinity=False))
def test_any_negative_amount_of_cents_is_refused(value: Decimal) -> None:
    raw = f"{value:f}"
    if len(raw) <= 40:
        assert refusal(forms.amount, {"payout": raw}, "payout").startswith("payout: ")


# number


@pytest.mark.parametrize(("raw", "value"), [
    ("0", 0.0), ("30", 30.0), ("2.5", 2.5), (" 15 ", 15.0), ("10000000", 1e7),
])
def test_a_number_is_read_as_a_float(raw: str, value: float) -> None:
    assert forms.number({"older_than_minutes": raw}, "older_than_minutes") == value


@pytest.mark.parametrize("form", [{}, {"older_than_minutes": ""}])
def test_a_number_left_empty_reads_as_none(form: dict[str, object]) -> None:
    assert forms.number(form, "older_than_minutes") is None


@pytest.mark.parametrize("raw", ["abc", "1,5", "ten", "0x1"])
def test_what_is_not_a_number_is_refused_as_such(raw: str) -> None:
    assert refusal(forms.number, {"older_than_minutes": raw}, "older_than_minutes") == \
        f"older_than_minutes: {raw!r} is not a number"


@pytest.mark.parametrize("raw", ["-1", "-0.5", "10000000.5", "1e999", "inf", "-inf", "nan",
                                 "NaN"])
def test_a_number_out_of_range_or_not_finite_is_refused(raw: str) -> None:
    assert refusal(forms.number, {"older_than_minutes": raw}, "older_than_minutes") == \
        "older_than_minutes: must be a number from 0 to 10000000"


def test_a_number_longer_than_twenty_characters_is_refused() -> None:
    assert refusal(forms.number, {"older_than_minutes": "1" * 21}, "older_than_minutes") \
        .startswith("older_than_minutes: at most 20 characters")


# moment


def test_a_datetime_local_value_is_read_as_utc() -> None:
    assert forms.moment({"deadline": "2026-12-07T18:30"}, "deadline") == \
        datetime(2026, 12, 7, 18, 30, tzinfo=UTC)


def test_a_naive_iso_time_with_seconds_is_read_as_utc() -> None:
    read = forms.moment({"deadline": "2026-12-07T18:30:15"}, "deadline")
    assert read == datetime(2026, 12, 7, 18, 30, 15, tzinfo=UTC)
    assert read is not None and read.utcoffset() == timedelta(0)


def test_a_time_with_an_offset_keeps_its_offset_and_names_the_same_instant() -> None:
    read = forms.moment({"deadline": "2026-12-07T20:30+02:00"}, "deadline")
    assert read is not None
    assert read.utcoffset() == timedelta(hours=2)
    assert read == datetime(2026, 12, 7, 18, 30, tzinfo=UTC)


def test_a_time_in_zulu_is_utc() -> None:
    assert forms.moment({"deadline": "2026-12-07T18:30:00Z"}, "deadline") == \
        datetime(2026, 12, 7, 18, 30, tzinfo=UTC)


@pytest.mark.parametrize("form", [{}, {"deadline": ""}, {"deadline": "   "}])
def test_a_moment_left_empty_reads_as_none(form: dict[str, object]) -> None:
    assert forms.moment(form, "deadline") is None


@pytest.mark.parametrize("raw", ["tomorrow", "2026-13-01T10:00", "2026-12-07T25:00",
                                 "07/12/2026 18:30", "12:30"])
def test_what_is_not_a_time_is_refused_with_an_example(raw: str) -> None:
    assert refusal(forms.moment, {"deadline": raw}, "deadline") == \
        f"deadline: {raw!r} is not a time such as 2026-12-07T18:30"


def test_a_moment_longer_than_forty_characters_is_refused() -> None:
    assert refusal(forms.moment, {"placed_from": "2026-12-07T18:30" + " x" * 20},
                   "placed_from").startswith("placed_from: at most 40 characters")


def test_a_moment_with_a_nul_character_is_refused() -> None:
    assert refusal(forms.moment, {"placed_to": "2026-12-07\x00"}, "placed_to") \
        .startswith("placed_to: ")


# choice


STATES = frozenset({"pending", "in_review", "settled"})


def test_an_allowed_choice_is_read() -> None:
    assert forms.choice({"state": " in_review "}, "state", STATES) == "in_review"


def test_an_optional_choice_left_empty_reads_as_none() -> None:
    assert forms.choice({}, "state", STATES) is None
    assert forms.choice({"state": ""}, "state", STATES) is None


def test_a_required_choice_left_empty_is_refused() -> None:
    assert refusal(forms.choice, {}, "state", STATES, required=True) == \
        "state: must not be empty"


@pytest.mark.parametrize("raw", ["lost", "IN_REVIEW", "in review", "pending;drop"])
def test_an_unknown_choice_is_refused_listing_the_allowed_ones_in_order(raw: str) -> None:
    assert refusal(forms.choice, {"state": raw}, "state", STATES) == \
        "state: must be one of in_review, pending, settled"


def test_a_choice_among_none_allowed_refuses_every_value() -> None:
    assert refusal(forms.choice, {"provider": "acme"}, "provider", set()) == \
        "provider: must be one of "


def test_a_choice_longer_than_sixty_four_characters_is_refused() -> None:
    assert refusal(forms.choice, {"state": "x" * 65}, "state", {"x" * 65}) \
        .startswith("state: at most 64 characters")


# resolution


@pytest.mark.parametrize("wanted", list(Resolution))
def test_every_resolution_is_read_by_its_value(wanted: Resolution) -> None:
    read = forms.resolution({"resolution": wanted.value})
    assert read is wanted


def test_a_missing_resolution_is_refused() -> None:
    assert refusal(forms.resolution, {}) == "resolution: must not be empty"


@pytest.mark.parametrize("raw", ["pay", "SETTLED", "refund", "settled\x00"])
def test_an_unknown_resolution_is_refused_naming_the_field(raw: str) -> None:
    message = refusal(forms.resolution, {"resolution": raw})
    assert message.startswith("resolution: ")


def test_an_unknown_resolution_lists_every_resolution() -> None:
    message = refusal(forms.resolution, {"resolution": "pay"})
    assert message == "resolution: must be one of " + ", ".join(sorted(r.value
                                                                       for r in Resolution))


def test_a_lone_surrogate_is_refused_as_broken_text() -> None:
    assert refusal(forms.text, {"note": "fine \ud83c then"}, "note") == \
        "note: is not valid text (a broken character)"
