"""The malformed bets: each one a valid bet spoiled in one way (or a few), and the
fields whose names the refusal must carry.

Every payload is JSON (NaN and Infinity included, as Python's ``json`` writes
them), so the very same case travels through all three intakes: a Python call,
the Celery task and ``POST /bets``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.badinput.cases import case_param

Payload = dict[str, Any]
PROVIDER = "sleepy"  # checks far apart: a bet written by mistake would sit still


@dataclass(frozen=True)
class BetCase:
    """One malformed bet: how to spoil a valid payload, and the fields the error names."""

    name: str
    spoil: Callable[[Payload], Payload]
    fields: frozenset[str]
    bug: str | None = None  # why it is not refused yet: the test is a strict xfail

    def param(self) -> object:
        return case_param(self, self.name, self.bug)

    def payload(self, valid: Payload) -> Payload:
        return self.spoil(dict(valid))

    def refs(self, valid: Payload) -> set[str]:
        """The references a wrongly accepted bet could have been written under."""
        spoiled = self.payload(valid).get("bet_ref")
        return {valid["bet_ref"]} | ({spoiled} if isinstance(spoiled, str) else set())


def changed(name: str, field: str, value: Any, *, bug: str | None = None) -> BetCase:
    """A case where ``field`` is set to ``value``: the error must name ``field``."""
    return BetCase(name, lambda p: {**p, field: value}, frozenset({field}), bug)


def missing(field: str) -> BetCase:
    return BetCase(f"{field} missing", lambda p: {k: v for k, v in p.items() if k != field},
                   frozenset({field}))


def appended(name: str, field: str, suffix: str) -> BetCase:
    """A case where ``field`` keeps its valid value with ``suffix`` added."""
    return BetCase(name, lambda p: {**p, field: p[field] + suffix}, frozenset({field}))



REQUIRED = ("provider", "bet_ref", "player_id", "game_id", "round_id", "stake", "currency")

ABSENT_OR_EMPTY = [missing(field) for field in REQUIRED] + [
    changed(f"{field} empty", field, "") for field in REQUIRED
]

TOO_LONG = [
    changed("provider of 65 characters", "provider", "p" * 65),
    appended("bet_ref of 129 characters", "bet_ref", "b" * 129),
    changed("player_id of 129 characters", "player_id", "p" * 129),
    changed("game_id of 10 000 characters", "game_id", "g" * 10_000),
    changed("round_id of 129 characters", "round_id", "r" * 129),
]

WRONG_TYPES = [
    changed("bet_ref a number", "bet_ref", 12345),
    changed("player_id a list", "player_id", ["player-1"]),
    changed("game_id an object", "game_id", {"id": "slots-7"}),
    changed("round_id a bool", "round_id", True),
    changed("provider null", "provider", None),
    changed("currency a number", "currency", 978),
    changed("stake a list", "stake", ["10.00"]),
    changed("stake an object", "stake", {"amount": "10.00"}),
    changed("stake a bool", "stake", True),
    changed("stake null", "stake", None),
    changed("placed_at a bool", "placed_at", True),
    changed("placed_at a list", "placed_at", [2026, 1, 1]),
]

BAD_PATTERNS = [
    appended("bet_ref with a space", "bet_ref", " 2"),
    appended("bet_ref with a tab", "bet_ref", "\t2"),
    appended("bet_ref with a trailing newline", "bet_ref", "\n"),
    appended("bet_ref with a NUL", "bet_ref", "\x00"),
    appended("bet_ref with a Cyrillic lookalike", "bet_ref", "-\u0435"),
    appended("bet_ref with a fullwidth digit", "bet_ref", "-\uff11"),
    appended("bet_ref with a hash", "bet_ref", "#frag"),
    appended("bet_ref with a zero-width space", "bet_ref", "\u200b"),
    # "." and ".." would rewrite the provider's URL: GET /bets/.. is GET /
    changed("bet_ref a single dot", "bet_ref", "."),
    changed("bet_ref two dots", "bet_ref", ".."),
    changed("bet_ref climbing out with two dots", "bet_ref", "x/../y"),
    changed("player_id with markup", "player_id", "<script>alert(1)</script>"),
    changed("round_id with an emoji", "round_id", "round-\U0001f3b2"),
    changed("game_id with a query string", "game_id", "slots?x=1"),
    changed("player_id with a right-to-left override", "player_id", "player\u202e1"),
]

UNKNOWN_PROVIDERS = [
    changed("provider unknown", "provider", "nobody"),
    changed("provider in capitals", "provider", PROVIDER.upper()),
    changed("provider with a trailing space", "provider", PROVIDER + " "),
    changed("provider with a Cyrillic lookalike", "provider", PROVIDER.replace("e", "\u0435")),
    changed("provider with a NUL", "provider", PROVIDER + "\x00"),
]

BAD_STAKES = [
    changed("stake zero", "stake", "0"),
    changed("stake zero with decimals", "stake", "0.00"),
    changed("stake negative", "stake", "-1"),
    changed("stake a negative cent", "stake", "-0.01"),
    changed("stake a float", "stake", 10.5),
    changed("stake a whole float", "stake", 10.0),
    changed("stake a whole number", "stake", 10),
    changed("stake a NaN number", "stake", math.nan),
    changed("stake an Infinity number", "stake", math.inf),
    changed("stake the string NaN", "stake", "NaN"),
    changed("stake the string Infinity", "stake", "Infinity"),
    changed("stake the string -Infinity", "stake", "-Infinity"),
    changed("stake 1e400", "stake", "1e400"),
    changed("stake with five decimals", "stake", "10.12345"),
    changed("stake of twenty digits", "stake", "9" * 20),
    changed("stake with a thousands separator", "stake", "1,000.00"),
    changed("stake with its currency", "stake", "10.00 EUR"),
    changed("stake in hexadecimal", "stake", "0x10"),
    changed("stake in fullwidth digits", "stake", "\uff11\uff10.00"),
    changed("stake in Arabic-Indic digits", "stake", "\u0661\u0660"),
    changed("stake with an underscore", "stake", "1_000"),
    changed("stake in exponent notation", "stake", "1e1"),
    changed("stake with a trailing newline", "stake", "10.00\n"),
]

BAD_CURRENCIES = [
    changed("currency lowercase", "currency", "eur"),
    changed("currency of four letters", "currency", "EURO"),
    changed("currency of two letters", "currency", "EU"),
    changed("currency with a digit", "currency", "E1R"),
    changed("currency digits", "currency", "978"),
    changed("currency with a leading space", "currency", " EUR"),
    changed("currency with a trailing newline", "currency", "EUR\n"),
    changed("currency with a Cyrillic lookalike", "currency", "\u0415UR"),
    changed("currency a symbol", "currency", "\u20ac"),
]

BAD_TIMES = [
    changed("placed_at naive", "placed_at", "2026-01-01T00:00:00"),
    changed("placed_at garbage", "placed_at", "yesterday"),
    changed("placed_at in 1900", "placed_at", "1900-01-01T00:00:00+00:00"),
    changed("placed_at in 9999", "placed_at", "9999-12-31T23:59:59+00:00"),
    changed("placed_at in year 1", "placed_at", "0001-01-01T00:00:00+00:00"),
    changed("placed_at on February 30", "placed_at", "2026-02-30T00:00:00+00:00"),
    changed("placed_at with a 25 hour offset", "placed_at", "2026-01-01T00:00:00+25:00"),
    changed("placed_at past 2100 once in UTC", "placed_at", "2099-12-31T23:59:59-23:59"),
    changed("placed_at of 1000 characters", "placed_at", "2026-01-01T00:00:00Z" + "0" * 980),
]

EXTRA_FIELDS = [
    changed("an unknown extra field", "extra", 1),
    changed("a smuggled state", "state", "settled"),
    changed("a smuggled payout", "payout", "1000.00"),
    changed("a smuggled id", "id", 1),
]

SEVERAL = [
    BetCase("stake currency and round_id all bad",
            lambda p: {**p, "stake": "-1", "currency": "eur", "round_id": ""},
            frozenset({"stake", "currency", "round_id"})),
]

CASES: list[BetCase] = [
    *ABSENT_OR_EMPTY, *TOO_LONG, *WRONG_TYPES, *BAD_PATTERNS, *UNKNOWN_PROVIDERS, *BAD_STAKES,
    *BAD_CURRENCIES, *BAD_TIMES, *EXTRA_FIELDS, *SEVERAL,
]

# Bodies that are not a bet at all: for the Python and Celery intakes (HTTP has its own).
NOT_AN_OBJECT: dict[str, Any] = {
    "a list": [{"provider": PROVIDER}], "a string": "bet", "a number": 42, "null": None,
}
