"""Reading the console's forms and filters: every bad value is refused with a message
naming its field, and nothing is changed."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal

from betguard.models.domain.errors import InvalidCommand
from betguard.models.domain.events import Resolution
from betguard.services.operator_text import MAX_TEXT

AMOUNT = re.compile(r"^[0-9]{1,15}(\.[0-9]{1,4})?$", re.ASCII)


def text(form: Mapping[str, object], name: str, *, required: bool = True,
         limit: int = MAX_TEXT) -> str | None:
    value = form.get(name)
    if not isinstance(value, str) or not value.strip():
        if required:
            raise InvalidCommand(f"{name}: must not be empty")
        return None
    if len(value) > limit or "\x00" in value:
        raise InvalidCommand(f"{name}: at most {limit} characters, no NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: no database stores it
        raise InvalidCommand(f"{name}: is not valid text (a broken character)") from None
    return value.strip()


def amount(form: Mapping[str, object], name: str, *, required: bool = False) -> Decimal | None:
    """A plain decimal amount (digits, an optional point and decimals), below 10^15."""
    raw = text(form, name, required=required, limit=40)
    if raw is None:
        return None
    if not AMOUNT.match(raw):
        raise InvalidCommand(f"{name}: {raw!r} is not an amount such as 12.50")
    return Decimal(raw)


def number(form: Mapping[str, object], name: str) -> float | None:
    raw = text(form, name, required=False, limit=20)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise InvalidCommand(f"{name}: {raw!r} is not a number") from None
    if value != value or value < 0 or value > 10**7:
        raise InvalidCommand(f"{name}: must be a number from 0 to 10000000")
    return value


def moment(form: Mapping[str, object], name: str) -> datetime | None:
    """A time from a ``datetime-local`` field (read as UTC) or an ISO 8601 text."""
    raw = text(form, name, required=False, limit=40)
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidCommand(f"{name}: {raw!r} is not a time such as 2026-12-07T18:30") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def choice(form: Mapping[str, object], name: str, allowed: set[str] | frozenset[str],
           *, required: bool = False) -> str | None:
    raw = text(form, name, required=required, limit=64)
    if raw is not None and raw not in allowed:
        raise InvalidCommand(f"{name}: must be one of {', '.join(sorted(allowed))}")
    return raw


def resolution(form: Mapping[str, object]) -> Resolution:
    raw = choice(form, "resolution", {r.value for r in Resolution}, required=True)
    return Resolution(raw or "")
