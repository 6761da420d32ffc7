"""Money as it travels: decimal strings, never floats."""

from __future__ import annotations

from decimal import Decimal

CENTS = Decimal("0.01")


def wire_amount(amount: Decimal) -> str:
    """At least two decimals, no padding beyond them ("12.50", "0.125"), so a
    NUMERIC(18, 4) read back as 12.5000 reads the same to every peer."""
    cents = amount.quantize(CENTS)
    return f"{cents:f}" if cents == amount else f"{amount.normalize():f}"
