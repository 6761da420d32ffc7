"""Which PostgreSQL server a process reaches, and whether it takes writes: for the
start-up check (a URL that lands on a standby is refused, naming the setting) and for
``betguard doctor``.

PostgreSQL says it itself: ``pg_is_in_recovery()`` is true on a standby, and the
primary lists its standbys in ``pg_stat_replication`` (``sync_state`` "sync" for one
its commits wait for, with how far each is behind in bytes of WAL).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from betguard.config.settings import SettingsError

DATABASE_SETTING = "DATABASE_URL"


@dataclass(frozen=True)
class Standby:
    name: str
    state: str  # "streaming" when it keeps up
    sync_state: str  # "sync": commits wait for it; "async", "potential", "quorum"
    lag_bytes: int | None  # WAL the primary has that the standby has not replayed


@dataclass(frozen=True)
class DatabaseServer:
    address: str  # host:port as the server sees itself (inet_server_addr/port)
    in_recovery: bool  # a standby
    synchronous_commit: str
    synchronous_standby_names: str  # whom commits wait for ("" none)
    standbys: tuple[Standby, ...]

    @property
    def role(self) -> str:
        return "standby" if self.in_recovery else "primary"


def server_of(engine: Engine) -> DatabaseServer | None:
    """The server ``engine`` reaches now (None for SQLite, which has no servers)."""
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect() as connection:
        host, port, recovering, sync, names = connection.execute(text(
            "SELECT host(inet_server_addr()), inet_server_port(), pg_is_in_recovery(), "
            "current_setting('synchronous_commit'), "
            "current_setting('synchronous_standby_names')")).one()
        rows = [] if recovering else connection.execute(text(
            "SELECT application_name, state, sync_state, "
            "pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint "
            "FROM pg_stat_replication ORDER BY application_name")).all()
    standbys = tuple(Standby(name, state, sync_state, None if lag is None else int(lag))
                     for name, state, sync_state, lag in rows)
    return DatabaseServer(f"{host or 'local socket'}:{port or ''}".rstrip(":"), bool(recovering),
                          str(sync), str(names), standbys)


def refuse_a_standby(engine: Engine) -> None:
    """Raise ``SettingsError`` when the URL reaches a standby, which refuses every write;
    a server that cannot be reached now is left to the units of work's retries."""
    try:
        server = server_of(engine)
    except DBAPIError:
        return
    if server is not None and server.in_recovery:
        raise SettingsError(
            f"{DATABASE_SETTING} reaches a standby ({server.address}, read-only): name the "
            "primary, or list every server and add target_session_attrs=read-write so "
            "libpq picks the one that takes writes")
