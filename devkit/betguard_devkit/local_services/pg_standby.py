"""A PostgreSQL primary and a streaming standby on loopback, for tests and drills of a
database failover, the way Patroni runs them (docs/high-availability.md, "PostgreSQL").

The standby is a copy of the primary made by ``pg_basebackup`` and kept current by
streaming replication. The primary waits for it at every commit (``synchronous_commit
= on`` with the standby in ``synchronous_standby_names``): a commit the primary
acknowledged is on both. A failover is what Patroni does when the primary is lost:
the standby is promoted (``pg_ctl promote``) and the old primary is fenced (it stays
down; Patroni would rewind it and start it as a standby of the new primary).

The directives are those of PostgreSQL's "High Availability, Load Balancing, and
Replication" chapter (26.2.4 Setting Up a Standby Server, 26.2.8 Synchronous
Replication) and of pg_basebackup's reference page.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType
from typing import Self

import psycopg

from ._common import ServiceError, wait_until
from .pg_install import PG_USER, pg_ids
from .postgres import DEFAULT_DB, PostgresServer

STANDBY_NAME = "standby1"
SYNCHRONOUS = f"synchronous_standby_names = '{STANDBY_NAME}'"


class PostgresStandby(PostgresServer):
    """A hot standby of ``primary``, streaming from it under ``name``."""

    def __init__(self, *, base_dir: Path, primary: PostgresServer,
                 name: str = STANDBY_NAME) -> None:
        conninfo = (f"host={primary.host} port={primary.port} user={PG_USER} "
                    f"application_name={name}")
        super().__init__(base_dir=base_dir, durable=primary.durable, extra_conf=[
            f"primary_conninfo = '{conninfo}'", "hot_standby = on"])
        self.primary = primary
        self.name = name

    def _initdb(self) -> None:
        """The data directory is a base backup of the primary, not a new cluster."""
        if (self.data_dir / "PG_VERSION").exists():
            return
        self._run([self._bin("pg_basebackup"), "-D", str(self.data_dir), "-h", self.primary.host,
                   "-p", str(self.primary.port), "-U", PG_USER, "-X", "stream",
                   "-c", "fast", "--no-sync"], timeout=120)
        signal = self.data_dir / "standby.signal"
        signal.touch()
        if os.geteuid() == 0:
            os.chown(signal, *pg_ids())

    def create_database(self, name: str) -> str:
        return self.url_for(name)  # read-only: the primary's databases arrive by replication

    def promote(self) -> None:
        """Make this standby a primary that takes writes (``pg_ctl promote``)."""
        self._pg_ctl("promote")
        if not wait_until(lambda: not self.in_recovery(), 30):
            raise ServiceError(f"the standby was not promoted ({self.log_file})")

    def in_recovery(self) -> bool:
        with self.connect() as conn:
            row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
        return bool(row and row[0])


class PostgresPair:
    """A primary and its synchronous standby under ``base_dir``; ``durable`` as for
    ``PostgresServer`` (both servers alike)."""

    def __init__(self, *, base_dir: Path, durable: bool = False) -> None:
        self.base_dir = Path(base_dir).absolute()
        replication = ["wal_level = replica", "max_wal_senders = 10", "wal_keep_size = '256MB'"]
        self.primary = PostgresServer(base_dir=self.base_dir / "pg-a", durable=durable,
                                      extra_conf=replication)
        self.standby = PostgresStandby(base_dir=self.base_dir / "pg-b", primary=self.primary)
        self.fenced: PostgresServer | None = None

    @property
    def servers(self) -> list[PostgresServer]:
        return [self.primary, self.standby]

    @property
    def url(self) -> str:
        """betguard's libpq multi-host URL: both servers, and only the one that takes
        writes will do (``target_session_attrs=read-write``)."""
        return url_of_hosts([(s.host, s.port) for s in self.servers], DEFAULT_DB)

    def start(self) -> Self:
        """Start the primary, copy it to the standby, start that, and wait until the
        primary names it its synchronous standby."""
        self.primary.start()  # not synchronous yet: its own CREATE DATABASE would wait
        self.standby.start()
        self.primary.extra_conf.append(SYNCHRONOUS)
        self.primary.reload()
        if not wait_until(self.in_sync, 60):
            raise ServiceError(f"the standby never streamed in sync ({self.standby.log_file})")
        return self

    def synchronous(self, on: bool) -> None:
        """Have the primary wait for the standby at every commit (the pair's normal way),
        or not (to measure what waiting costs)."""
        conf = self.primary.extra_conf
        if on and SYNCHRONOUS not in conf:
            conf.append(SYNCHRONOUS)
        elif not on and SYNCHRONOUS in conf:
            conf.remove(SYNCHRONOUS)
        self.primary.reload()

    def stop(self) -> None:
        for server in [self.standby, self.primary]:
            server.stop()

    def in_sync(self) -> bool:
        """Whether the primary's synchronous standby streams (``pg_stat_replication``)."""
        try:
            with self.primary.connect() as conn:
                rows = conn.execute("SELECT state, sync_state FROM pg_stat_replication "
                                    "WHERE application_name = %s", (STANDBY_NAME,)).fetchall()
        except psycopg.Error:
            return False
        return ("streaming", "sync") in [tuple(row) for row in rows]

    def fail_over(self) -> PostgresServer:
        """SIGKILL the primary, as a crash would, and promote the standby, as Patroni
        would; the old primary stays down (fenced). Returns the new primary."""
        old = self.primary
        old.kill()
        self.fenced = old
        self.standby.promote()
        return self.standby

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def url_of_hosts(hosts: list[tuple[str, int]], dbname: str) -> str:
    """A SQLAlchemy (psycopg) URL that tries each host in turn and keeps the one that
    takes writes: SQLAlchemy's "multihost connections" form, passed to libpq."""
    query = "&".join(f"host={host}:{port}" for host, port in hosts)
    return f"postgresql+psycopg://{PG_USER}@/{dbname}?{query}&target_session_attrs=read-write"
