"""The span of instants betguard accepts from a client: the years 2000 to 2099, in UTC.

A time outside it is a mistake, and the times computed from it (a deadline, the next
check) could overflow the calendar, which would be a crash on bad input. The intake
(``placed_at``) and the API (a review's ``deadline``) refuse exactly the same instants:
from :data:`EARLIEST` included to :data:`LATEST` excluded.
"""

from __future__ import annotations

from datetime import UTC, datetime

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


def within_calendar(moment: datetime | None) -> datetime | None:
    """``moment`` unchanged if it lies in [EARLIEST, LATEST) (or is absent); otherwise a
    ``ValueError`` saying the span, so it serves as a pydantic ``AfterValidator``."""
    if moment is not None and not EARLIEST <= moment < LATEST:
        raise ValueError(f"must lie in the years {EARLIEST.year} to {LATEST.year - 1} (UTC)")
    return moment
