"""Amounts and currencies as providers' answers carry them, for every dialect's strict
models: an amount betguard holds is 0 to below 10^12 with at most 4 decimals."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, Field


def json_number(value: Any) -> Any:
    """An amount: a JSON number read exactly (a Decimal, or an int); strings, booleans
    and floats (not read exactly) are refused."""
    if isinstance(value, bool | str | float):
        raise ValueError("should be a JSON number read exactly (e.g. 12.5)")
    if isinstance(value, int):
        return Decimal(value)
    return value


# An amount sent as a JSON number, read with exact ints and Decimal (betguard.providers.form_http).
Money = Annotated[
    Decimal,
    BeforeValidator(json_number),
    Field(ge=0, lt=10**12, decimal_places=4, allow_inf_nan=False),
]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
