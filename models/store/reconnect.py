"""A unit of work tried again after the database connection was lost.

When the PostgreSQL primary dies, fails over, or a connection is cut, a unit of work
fails with a connection error and does not know whether its COMMIT took effect: the
answer was lost on the way back ("server closed the connection unexpectedly"), or a
commit waiting for the synchronous standby was cancelled ("committed locally, but
might not have been replicated"). Every unit of work in betguard is safe to run again
(the database is the truth; each write is an idempotent insert or a compare-and-set
on the bet's version), so the answer to doubt is: wait, re-read, and run it again.
``recover`` is the re-read, for a unit whose second run could not tell that the first
one succeeded (an intake finds its bets by their idempotency key; a claim finds its own
lease): when it finds the first run's effect, that is the answer.

What counts as a lost connection (docs/high-availability.md, "PostgreSQL"): what
SQLAlchemy's dialect marks ``connection_invalidated``, a driver error with no SQLSTATE
(libpq could not reach or lost the server), class 08 (connection exception), 57P01-03
(the server shut the session: admin, crash, or cannot connect now) and 25006 (a read-only
transaction: a session that reached a standby). Anything else (a constraint, a
deadlock, a bug) is not a connection problem and is raised at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_delay,
    wait_exponential,
    wait_random,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

#: How long a unit of work keeps trying through a failover, by default (seconds).
DEFAULT_RETRY_SECONDS = 45.0
_SESSION_CLOSED = ("57P01", "57P02", "57P03")
_READ_ONLY = "25006"


def is_disconnect(exc: BaseException) -> bool:
    """Whether ``exc`` means the connection (not the statement) failed."""
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    if not hasattr(exc.orig, "sqlstate"):  # not a PostgreSQL driver error (e.g. SQLite)
        return False
    state: str | None = getattr(exc.orig, "sqlstate", None)
    return state is None or state.startswith("08") or state in _SESSION_CLOSED \
        or state == _READ_ONLY


def run_through_disconnects(work: Callable[[], T], *, seconds: float,
                            recover: Callable[[], T | None] | None = None,
                            wait_max: float = 2.0) -> T:
    """``work()``; after a lost connection, ``recover()`` (when given, and when it finds
    the lost run's effect, that is returned) or ``work()`` again, for up to ``seconds``;
    then the last connection error is raised. The first run costs a plain call: the
    hot paths (claims, conclusions, intake) pay for retrying only once in doubt."""
    try:
        return work()
    except DBAPIError as exc:
        if not is_disconnect(exc):
            raise
        _log_lost(exc, 1)

    def attempt() -> T:  # every run after the first is in doubt about the one before
        if recover is not None:
            found = recover()
            if found is not None:
                return found
        return work()

    retrying = Retrying(retry=retry_if_exception(is_disconnect), stop=stop_after_delay(seconds),
                        wait=wait_exponential(multiplier=0.1, max=wait_max) + wait_random(0, 0.05),
                        before_sleep=_log_retry, reraise=True)
    return retrying(attempt)


def _log_retry(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome is not None else None
    _log_lost(error, state.attempt_number + 1)


def _log_lost(error: BaseException | None, tries: int) -> None:
    log.warning("database connection lost (%s); trying the unit of work again (try %d)",
                type(getattr(error, "orig", error)).__name__, tries + 1)
