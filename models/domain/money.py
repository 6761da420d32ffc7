"""Money as it travels: decimal strings, never floats."""

from __future__ import annotations

import re
from decimal import Decimal

CENTS = Decimal("0.01")
# ASCII digits only: Decimal() also reads "１０", "1_000", "1e1" and "10\n", none of which
# a game server or provider means as money.
_PLAIN_DECIMAL = re.compile(r"-?[0-9]{1,14}(\.[0-9]{1,4})?", re.ASCII)


# The amounts the API takes, as JSON Schema patterns for the OpenAPI document: plain
# decimals (below) with no sign, a payout from 0 and a stake above it.
PAYOUT_PATTERN = r"^[0-9]{1,14}(\.[0-9]{1,4})?$"
STAKE_PATTERN = r"^(?=.*[1-9])[0-9]{1,14}(\.[0-9]{1,4})?$"


def is_plain_decimal(text: str) -> bool:
    """Whether ``text`` is money written plainly: digits, an optional point and decimals."""
    return _PLAIN_DECIMAL.fullmatch(text) is not None


def wire_amount(amount: Decimal) -> str:
    """At least two decimals, no padding beyond them ("12.50", "0.125"), so a
    NUMERIC(18, 4) read back as 12.5000 reads the same to every peer."""
    cents = amount.quantize(CENTS)
    return f"{cents:f}" if cents == amount else f"{amount.normalize():f}"
