"""Helpers shared by the local Postgres and Redis servers.

Kept separate so both server classes use the same bounded waits, log tails and
exit-time cleanup instead of each growing its own slightly different copy.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

#: Upper bound for any wait on a local server; a healthy one needs a few seconds.
WAIT_SECONDS = 30.0


class ServiceError(RuntimeError):
    """A local server failed to start, stop or answer within its bounded wait."""


class _Stoppable(Protocol):
    def stop(self) -> None: ...


# server -> pid of the process that started it: a forked child (e.g. a Celery prefork
# worker) inherits atexit hooks and must not stop its parent's servers when it exits.
_running: weakref.WeakKeyDictionary[_Stoppable, int] = weakref.WeakKeyDictionary()
_atexit_installed = False


def service_host() -> str:
    """The address local servers listen on and are reached at: loopback, unless a drill
    runs them in a network namespace of their own (``betguard_devkit.netns``), where it
    is the namespace's address on the bridge to its hosts (``BETGUARD_DEVKIT_HOST``)."""
    return os.environ.get("BETGUARD_DEVKIT_HOST", "127.0.0.1")


def free_port() -> int:
    """Return a TCP port on the service host that was free a moment ago.

    The kernel picks it, so parallel test runs do not collide on fixed ports.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((service_host(), 0))
        return int(sock.getsockname()[1])


def log_tail(path: Path, lines: int = 30) -> str:
    """Last lines of a server log, so start/stop errors say what the server said."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no log at {path})"
    tail = text.splitlines()[-lines:]
    return "\n".join(tail) if tail else f"(log {path} is empty)"


def wait_until(check: Callable[[], bool], timeout: float = WAIT_SECONDS) -> bool:
    """Poll ``check`` until it is true or ``timeout`` passes; never waits unbounded."""
    deadline = time.monotonic() + timeout
    delay = 0.02
    while True:
        if check():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.25)


def pid_alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (a zombie holds no resources)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return status.rsplit(")", 1)[-1].split()[0] != "Z"


def child_pids(pid: int) -> list[int]:
    """Direct children of ``pid`` read from /proc (empty where /proc is missing)."""
    children = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            if int(stat_file.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                children.append(int(stat_file.parent.name))
    return children


def kill_tree(pid: int) -> list[int]:
    """SIGKILL ``pid`` and its direct children; return every pid that was signalled.

    PostgreSQL backends call setsid(), so killing the process group is not enough:
    a surviving backend would keep the old shared memory attached and block restart.
    """
    pids = [pid, *child_pids(pid)]
    for target in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(target, signal.SIGKILL)
    return pids


def register_running(server: _Stoppable) -> None:
    """Remember a started server so interpreter exit stops it even if a test forgot."""
    global _atexit_installed
    _running[server] = os.getpid()
    if not _atexit_installed:
        atexit.register(_stop_all)
        _atexit_installed = True


def unregister_running(server: _Stoppable) -> None:
    """Forget a server that was stopped on purpose."""
    _running.pop(server, None)


def _stop_all() -> None:
    for server, owner in list(_running.items()):
        if owner == os.getpid():
            with contextlib.suppress(Exception):
                server.stop()
