"""The span of instants betguard accepts from a client: the years 2000 to 2099, in UTC.

A time outside it is a mistake, and the times computed from it (a deadline, the next
check) could overflow the calendar, which would be a crash on bad input. The intake
(``placed_at``) and the API (a review's ``deadline``) refuse exactly the same instants:
from :data:`EARLIEST` included to :data:`LATEST` excluded.

Such a time is a string written as RFC 3339 says (``2030-01-31T12:00:00Z``, an offset
or ``Z`` required): pydantic would also read a number as Unix time, and a date
without its time, which the OpenAPI document does not promise and no client means.
:data:`PATTERN` states both for the document; it can say the year as written, not the
instant in UTC, so a time within a day of either end may be refused though its year
reads 2000 or 2099.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)

_TIME = (r"[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?"
         r"([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$")
_RFC_3339 = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}" + _TIME)
# Only real dates of 2000 to 2099 (every fourth year a leap year, 2000 too): a
# generator of valid data would otherwise find February 30th.
_DAY = (r"(?:[0-9]{2}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
        r"|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|1[0-9]|2[0-8]))"
        r"|(?:[02468][048]|[13579][26])-02-29)")
PATTERN = r"^20" + _DAY + _TIME


def written_as_rfc_3339(value: object) -> object:
    """``value`` unchanged if it is a string in RFC 3339's form (or absent); otherwise a
    ``ValueError`` with an example, so it serves as a pydantic ``BeforeValidator``."""
    if value is not None and not (isinstance(value, str) and _RFC_3339.match(value)):
        raise ValueError('must be a date and time with its offset, like "2030-01-31T12:00:00Z"')
    return value


def within_calendar(moment: datetime | None) -> datetime | None:
    """``moment`` unchanged if it lies in [EARLIEST, LATEST) (or is absent); otherwise a
    ``ValueError`` saying the span, so it serves as a pydantic ``AfterValidator``."""
    if moment is not None and not EARLIEST <= moment < LATEST:
        raise ValueError(f"must lie in the years {EARLIEST.year} to {LATEST.year - 1} (UTC)")
    return moment


def to_millis(moment: datetime) -> int:
    """Milliseconds since the epoch of an aware moment, exactly (no float on the way):
    how providers' wires word a time."""
    return (moment - EPOCH) // _MILLISECOND


def from_millis(millis: int) -> datetime:
    """The moment ``millis`` milliseconds after the epoch, exactly."""
    return EPOCH + millis * _MILLISECOND
