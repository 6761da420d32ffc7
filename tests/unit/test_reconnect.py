"""Which database errors are a lost connection, and how a unit of work is run again."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError

from betguard.models.store.reconnect import is_disconnect, run_through_disconnects


def _driver_error(sqlstate: str | None) -> psycopg.Error:
    error = psycopg.OperationalError("server closed the connection unexpectedly")
    error.sqlstate = sqlstate  # type: ignore[misc]  # psycopg reads it from the result
    return error


def _wrapped(orig: Exception, *, invalidated: bool = False) -> OperationalError:
    return OperationalError("COMMIT", {}, orig, connection_invalidated=invalidated)


@pytest.mark.parametrize("sqlstate", [None, "08006", "08001", "57P01", "57P02", "57P03",
                                      "25006"])
def test_connection_failures_and_a_read_only_session_are_disconnects(sqlstate: str | None,
                                                                     ) -> None:
    assert is_disconnect(_wrapped(_driver_error(sqlstate)))


@pytest.mark.parametrize("sqlstate", ["40P01", "40001", "23505", "42P01", "57014"])
def test_a_failing_statement_is_not_a_disconnect(sqlstate: str) -> None:
    assert not is_disconnect(_wrapped(_driver_error(sqlstate)))


def test_what_the_dialect_marked_invalidated_is_a_disconnect() -> None:
    assert is_disconnect(InterfaceError("SELECT 1", {}, Exception("gone"),
                                        connection_invalidated=True))


def test_sqlite_errors_and_plain_exceptions_are_not_disconnects() -> None:
    assert not is_disconnect(_wrapped(sqlite3.OperationalError("database is locked")))
    assert not is_disconnect(IntegrityError("INSERT", {}, Exception("duplicate")))
    assert not is_disconnect(ConnectionError("not a database error"))


class Flaky:
    """A unit of work that loses its connection ``failures`` times, then answers."""

    def __init__(self, failures: int, answer: str = "done") -> None:
        self.failures = failures
        self.answer = answer
        self.runs = 0

    def __call__(self) -> str:
        self.runs += 1
        if self.runs <= self.failures:
            raise _wrapped(_driver_error(None))
        return self.answer


def test_a_unit_of_work_runs_again_after_a_lost_connection() -> None:
    work = Flaky(failures=2)
    assert run_through_disconnects(work, seconds=5, wait_max=0.01) == "done"
    assert work.runs == 3


def test_a_statement_error_is_raised_at_once() -> None:
    runs = []

    def work() -> str:
        runs.append(1)
        raise _wrapped(_driver_error("23505"))

    with pytest.raises(OperationalError):
        run_through_disconnects(work, seconds=5, wait_max=0.01)
    assert len(runs) == 1


def test_the_last_connection_error_is_raised_when_the_time_runs_out() -> None:
    work = Flaky(failures=10**6)
    with pytest.raises(OperationalError):
        run_through_disconnects(work, seconds=0.2, wait_max=0.01)
    assert work.runs > 1


def test_recover_finds_what_a_lost_commit_did_and_the_work_is_not_run_again() -> None:
    work = Flaky(failures=1)
    recovered = []

    def recover() -> str | None:
        recovered.append(1)
        return "found the first run's effect"

    assert run_through_disconnects(work, seconds=5, recover=recover,
                                   wait_max=0.01) == "found the first run's effect"
    assert work.runs == 1 and len(recovered) == 1


def test_recover_is_not_asked_before_a_first_run_nor_when_it_finds_nothing() -> None:
    work = Flaky(failures=1)
    asked = []

    def recover() -> str | None:
        asked.append(work.runs)
        return None

    assert run_through_disconnects(work, seconds=5, recover=recover, wait_max=0.01) == "done"
    assert asked == [1]  # once, after the first run failed
    assert work.runs == 2
