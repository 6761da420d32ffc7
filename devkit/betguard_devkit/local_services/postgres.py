"""A throwaway (or durable) PostgreSQL cluster on 127.0.0.1 for tests, drills and the demo.

Runs the real server binaries, never Docker. PostgreSQL refuses to run as root, so when
we are root every server command runs as the ``postgres`` system user; that user must be
able to traverse every directory above ``base_dir``, so missing search bits are added
(``o+x`` only: it lets the user pass through, not list) with a log line saying so.
A base under /tmp made with ``tempfile.mkdtemp`` and chmod 755 needs no such change.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import psycopg
from psycopg import sql

from ._common import (
    WAIT_SECONDS,
    ServiceError,
    free_port,
    kill_tree,
    log_tail,
    pid_alive,
    register_running,
    service_host,
    unregister_running,
    wait_until,
)
from .pg_install import PG_USER, ensure_postgres_installed, grant_traverse, pg_ids

log = logging.getLogger(__name__)

DEFAULT_DB = "betguard"
_CONF_NAME = "betguard.conf"
_MAX_SOCKET_PATH = 100  # sun_path is 108 bytes; leave room for "/.s.PGSQL.NNNNN"


def _is_postgres(pid: int) -> bool:
    """Guard against a recycled pid in a stale postmaster.pid before we signal it."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() == "postgres"
    except OSError:
        return True  # no /proc to ask: trust the pid file as PostgreSQL itself does


class PostgresServer:
    """One PostgreSQL cluster under ``base_dir``, listening only on 127.0.0.1.

    Not durable by default (fsync and full_page_writes off: only an OS crash could lose
    data) because tests create and drop a lot; ``durable=True`` keeps PostgreSQL's
    crash-safety defaults for the demo. kill() keeps every acknowledged commit either way.
    """

    def __init__(self, *, base_dir: Path, port: int | None = None, durable: bool = False,
                 extra_conf: Sequence[str] = ()) -> None:
        self.base_dir = Path(base_dir).absolute()
        self.port = port or free_port()
        self.durable = durable
        self.extra_conf = list(extra_conf)  # more postgresql.conf lines (replication)
        self.host = service_host()
        self._auto_port = port is None
        self._bindir: Path | None = None

    # -- paths and URLs ---------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def log_file(self) -> Path:
        return self.base_dir / "postgres.log"

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the ``betguard`` database (psycopg 3 driver)."""
        return self.url_for(DEFAULT_DB)

    def url_for(self, dbname: str) -> str:
        return f"postgresql+psycopg://{PG_USER}@{self.host}:{self.port}/{dbname}"

    @property
    def pid(self) -> int | None:
        """Postmaster pid from postmaster.pid, or None when no server runs."""
        try:
            pid = int((self.data_dir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if pid_alive(pid) and _is_postgres(pid) else None

    @property
    def running(self) -> bool:
        return self.pid is not None

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> Self:
        """initdb once, start the server, create the ``betguard`` database."""
        if self.running:
            return self
        self._prepare_dirs()
        self._initdb()
        self._clear_stale_locks()
        for attempt in range(3):
            self._write_conf()
            error = self._pg_ctl_start()
            if error is None:
                break
            port_taken = "could not bind" in log_tail(self.log_file, 10)
            if not (self._auto_port and port_taken and attempt < 2):
                self.kill()  # pg_ctl may give up while the server is still coming up
                raise ServiceError(f"PostgreSQL did not start: {error}")
            self.port = free_port()  # someone took our port between choosing and binding
        register_running(self)
        self.create_database(DEFAULT_DB)
        return self

    def stop(self) -> None:
        """Fast shutdown (bounded); falls back to SIGKILL. Safe to call repeatedly."""
        unregister_running(self)
        if not self.running:
            return
        try:
            self._pg_ctl("stop", "-m", "fast")
        except ServiceError:
            log.warning("pg_ctl stop failed; killing the postmaster")
            self.kill()

    def reload(self) -> None:
        """Write the settings again and have the running server read them (SIGHUP)."""
        self._write_conf()
        self._pg_ctl("reload")

    def restart(self) -> Self:
        self.stop()
        return self.start()

    def kill(self) -> None:
        """SIGKILL the postmaster and its backends, as a crash would (fault drills)."""
        unregister_running(self)
        pid = self.pid
        if pid is None:
            return
        pids = kill_tree(pid)
        if not wait_until(lambda: not any(pid_alive(p) for p in pids)):
            raise ServiceError(f"PostgreSQL processes {pids} survived SIGKILL")
        self._clear_stale_locks()  # so a recycled pid is never taken for our postmaster

    def dsn(self, dbname: str) -> str:
        """libpq's connection string for ``dbname`` on this server alone."""
        return f"host={self.host} port={self.port} user={PG_USER} dbname={dbname}"

    def connect(self, dbname: str = "postgres") -> psycopg.Connection[Any]:
        """A driver connection (autocommit) to this server alone, for set-up and drills."""
        return psycopg.connect(f"{self.dsn(dbname)} connect_timeout=10", autocommit=True)

    def create_database(self, name: str) -> str:
        """Create database ``name`` if missing; return its SQLAlchemy URL."""
        with self.connect() as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if exists.fetchone() is None:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url_for(name)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- internals ----------------------------------------------------------------------
    def _bin(self, name: str) -> str:
        if self._bindir is None:
            self._bindir = ensure_postgres_installed()
        return str(self._bindir / name)

    def _prepare_dirs(self) -> None:
        """Create base_dir and, as root, hand it to the postgres user."""
        self.base_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() != 0:
            return
        uid, gid = pg_ids()
        grant_traverse(self.base_dir, uid, gid)
        if self.base_dir.stat().st_uid != uid:
            for root, dirs, files in os.walk(self.base_dir):
                for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
                    os.chown(name, uid, gid, follow_symlinks=False)

    def _initdb(self) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        args = [self._bin("initdb"), "-D", str(self.data_dir), "-U", PG_USER, "-A", "trust"]
        args += ["-E", "UTF8", "--no-locale"]
        self._run(args if self.durable else [*args, "--no-sync"], timeout=120)
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write(f"\ninclude_if_exists = '{_CONF_NAME}'\n")
        # initdb trusts loopback only; a server listening in a drill's namespace is also
        # reached from the hosts on its bridge ("samenet": the server's own subnets).
        with (self.data_dir / "pg_hba.conf").open("a") as hba:
            hba.write("host all all samenet trust\nhost replication all samenet trust\n")

    def _clear_stale_locks(self) -> None:
        """Drop lock files of a dead server before starting.

        After kill() the postmaster can linger as an unreaped zombie (reparented to an
        init that reaps late); PostgreSQL sees its pid alive and refuses to start.
        """
        (self.data_dir / "postmaster.pid").unlink(missing_ok=True)
        for lock in self.base_dir.glob(".s.PGSQL.*.lock"):
            lock.unlink(missing_ok=True)

    def _write_conf(self) -> None:
        """Settings live in an included file so port/durability can change per start."""
        sock = str(self.base_dir) if len(str(self.base_dir)) <= _MAX_SOCKET_PATH else ""
        safe = "on" if self.durable else "off"
        lines = [
            f"listen_addresses = '{self.host}'",
            f"port = {self.port}",
            "unix_socket_directories = '{}'".format(sock.replace("'", "''")),
            # A thread-pool worker keeps a connection a thread, and up to as many again
            # at its busiest (pool_size and max_overflow): the scale run's four workers of
            # 32 threads may hold 256, beside the API's, beat's and the bench's own.
            "max_connections = 400",
            f"fsync = {safe}",
            f"full_page_writes = {safe}",
            # Kept on even when not durable: with fsync off a commit is one write() to the
            # page cache, yet "off" lets kill() lose acknowledged commits, which would make
            # crash drills report losses that a real server would not have.
            "synchronous_commit = on",
            *self.extra_conf,
        ]
        path = self.data_dir / _CONF_NAME
        path.write_text("\n".join(lines) + "\n")
        if os.geteuid() == 0:
            os.chown(path, *pg_ids())

    def _pg_ctl_start(self) -> str | None:
        """Start via pg_ctl; return the error text instead of raising, for the port retry."""
        try:
            self._pg_ctl("start", "-l", str(self.log_file))
        except ServiceError as exc:
            return str(exc)
        return None

    def _pg_ctl(self, action: str, *args: str) -> None:
        """pg_ctl with its own bounded wait, and ours a little longer as a backstop."""
        wait = ["-w", "-t", str(int(WAIT_SECONDS))]
        cmd = [self._bin("pg_ctl"), action, "-D", str(self.data_dir), *wait, *args]
        self._run(cmd, timeout=WAIT_SECONDS + 15)

    def _run(self, args: list[str], *, timeout: float) -> None:
        """Run a server command (as the postgres user when root); errors carry the log tail."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        kwargs: dict[str, Any] = {}
        if os.geteuid() == 0:
            uid, gid = pg_ids()
            kwargs = {"user": uid, "group": gid, "extra_groups": []}
            env["HOME"] = str(self.base_dir)
        try:
            proc = subprocess.run(  # noqa: S603
                args,
                env=env,
                cwd=self.base_dir,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
                **kwargs,
            )
        except subprocess.TimeoutExpired:
            raise ServiceError(
                f"{Path(args[0]).name} timed out after {timeout:.0f}s:\n{log_tail(self.log_file)}"
            ) from None
        if proc.returncode != 0:
            raise ServiceError(
                f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}\n"
                f"server log:\n{log_tail(self.log_file)}"
            )
