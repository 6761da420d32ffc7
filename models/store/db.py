"""Engines and units of work (a ``Session``, or a Core ``Connection`` on the hot paths).
Created per process at start-up, never at import."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from betguard.models.domain.outbox import NEW_NOTIFICATIONS
from betguard.models.store.reconnect import DEFAULT_RETRY_SECONDS, run_through_disconnects

# The types of a unit of work, for services: they speak to the store through these and
# the store's named queries, never to SQLAlchemy itself (an import-linter contract).
__all__ = ["Connection", "Database", "Session", "conflict_insert"]

SQLITE_BUSY_TIMEOUT_SECONDS = 30
T = TypeVar("T")


def conflict_insert(executor: Session | Connection, table: Any) -> Any:
    """An INSERT into ``table`` that takes ``ON CONFLICT`` clauses, in the dialect of the
    database ``executor`` runs on (PostgreSQL in production, SQLite for the demo: both
    spell the clauses alike)."""
    bind = executor.get_bind() if isinstance(executor, Session) else executor
    dialect = postgresql if bind.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


class Database:
    """One engine and session factory for this process."""

    def __init__(self, url: str, *, pool_size: int = 10,
                 retry_seconds: float = DEFAULT_RETRY_SECONDS, pre_ping: bool = True,
                 application_name: str | None = None) -> None:
        self.url = url
        self.retry_seconds = retry_seconds
        self.engine = _make_engine(url, pool_size=pool_size, pre_ping=pre_ping,
                                   application_name=application_name)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # Called with the ids of notifications a transaction added, once it committed.
        self.on_new_notifications: Callable[[list[int]], None] | None = None
        event.listen(self._sessions, "after_commit", self._after_commit)
        event.listen(self._sessions, "after_rollback", _forget_notifications)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """A transaction: commit explicitly with ``session.commit()``; rolled back otherwise."""
        with self._sessions() as session:
            try:
                yield session
            finally:
                session.rollback()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A Core transaction, committed when the block ends and rolled back if it raises:
        for hot paths that load no ORM objects and write no notifications (whose
        wake-ups hang on the unit of work's commit)."""
        with self.engine.begin() as connection:
            yield connection

    def retry(self, work: Callable[[], T], *, recover: Callable[[], T | None] | None = None) -> T:
        """Run ``work`` (whole units of work, safe to run twice) through a lost connection
        or a failover: see ``betguard.models.store.reconnect``."""
        return run_through_disconnects(work, seconds=self.retry_seconds, recover=recover)

    def for_one_writer(self, name: str) -> Database:
        """A database of one connection, not pinged when taken from its pool, for a thread
        that writes all the time and only through ``retry`` (the intake's group writer),
        shown as ``name`` in ``pg_stat_activity``.
        The ping is a round trip before every transaction; without it, a connection that
        died while idle fails its first statement as a lost connection, and ``retry``
        runs the unit of work again on a new one. SQLite has no connection to lose: the
        same database."""
        if self.is_sqlite:
            return self
        return Database(self.url, pool_size=1, retry_seconds=self.retry_seconds,
                        pre_ping=False, application_name=name)

    def dispose(self) -> None:
        self.engine.dispose()

    def _after_commit(self, session: Session) -> None:
        ids = session.info.pop(NEW_NOTIFICATIONS, None)
        if ids and self.on_new_notifications is not None:
            self.on_new_notifications(ids)


def _forget_notifications(session: Session) -> None:
    session.info.pop(NEW_NOTIFICATIONS, None)


def _make_engine(url: str, *, pool_size: int, pre_ping: bool,
                 application_name: str | None) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "isolation_level": None}
        )
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    named = {"application_name": application_name} if application_name else {}
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size,
                         pool_pre_ping=pre_ping, connect_args=named)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_SECONDS * 1000}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin_immediate(connection: Any) -> None:
    # Take the write lock at BEGIN, so concurrent writers wait for each other
    # (busy_timeout) instead of failing on a read-to-write lock upgrade.
    connection.exec_driver_sql("BEGIN IMMEDIATE")
