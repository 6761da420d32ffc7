"""Starting betguard's own processes (workers, beat, simulator) as real children,
and making sure none is left behind: each starts its own process group, and the
group is ended on stop, on Ctrl-C and at interpreter exit."""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from betguard.config.celery import DEFAULT_QUEUE, PROVIDER_QUEUE
from betguard_devkit.local_services._common import service_host

STOP_GRACE_SECONDS = 10.0
# The module ``celery -A`` loads: betguard's own app. A drill names a module of its own
# that hooks publishing (drills/duplicates.py).
CELERY_APP = "betguard.tasks.app"


class ManagedProcess:
    """One child process in its own process group, with its output in a log file."""

    def __init__(self, name: str, argv: list[str], *, env: Mapping[str, str], log: Path) -> None:
        self.name, self.argv, self.env, self.log = name, argv, dict(env), log
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self) -> ManagedProcess:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
                self.argv, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )
        _live.append(self)
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None, f"{self.name} was not started"  # noqa: S101
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self, timeout: float = STOP_GRACE_SECONDS) -> None:
        """SIGTERM the group (a warm shutdown for Celery), SIGKILL it after ``timeout``."""
        if self.popen is None:
            return
        self._signal_group(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL)
            self.popen.wait(5)
        self._signal_group(signal.SIGKILL)  # children that outlived their parent
        with contextlib.suppress(ValueError):
            _live.remove(self)

    def kill(self) -> None:
        """SIGKILL the whole group at once: a crash, as a fault drill wants it."""
        if self.popen is not None:
            self._signal_group(signal.SIGKILL)
            self.popen.wait(5)

    def _signal_group(self, signum: int) -> None:
        if self.popen is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.popen.pid, signum)


_live: list[ManagedProcess] = []


def forget(children: list[ManagedProcess]) -> None:
    """Leave ``children`` running after this process exits."""
    for child in children:
        with contextlib.suppress(ValueError):
            _live.remove(child)


@atexit.register
def _stop_all() -> None:
    for process in reversed(list(_live)):
        with contextlib.suppress(Exception):
            process.stop(timeout=3)


def celery_argv(*args: str, app: str = CELERY_APP) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", app, *args]


def provider_worker(env: Mapping[str, str], log: Path, *, name: str = "provider",
                    concurrency: int = 8, metrics_port: int | None = None,
                    app: str = CELERY_APP) -> ManagedProcess:
    """The worker for provider and wallet calls: I/O-bound, so a thread pool.

    With ``metrics_port`` it serves its checks, provider calls and deliveries
    there; set for this process only, as two workers cannot share a port."""
    argv = celery_argv("worker", "-Q", PROVIDER_QUEUE, "-P", "threads", "-c", str(concurrency),
                       "-n", f"{name}@%h", "-E", "--without-gossip", "--without-mingle",
                       "-l", "INFO", app=app)
    if metrics_port is not None:
        env = {**env, "BETGUARD_METRICS_PORT": str(metrics_port)}
    return ManagedProcess(f"worker {name}", argv, env=env, log=log)


def default_worker(env: Mapping[str, str], log: Path, *, name: str = "default",
                   concurrency: int = 2, app: str = CELERY_APP) -> ManagedProcess:
    """The worker for intake and sweeps: prefork."""
    argv = celery_argv("worker", "-Q", DEFAULT_QUEUE, "-P", "prefork", "-c", str(concurrency),
                       "-n", f"{name}@%h", "-E", "--without-gossip", "--without-mingle",
                       "-l", "INFO", app=app)
    return ManagedProcess(f"worker {name}", argv, env=env, log=log)


def beat(env: Mapping[str, str], log: Path, *, schedule_file: Path,
         app: str = CELERY_APP) -> ManagedProcess:
    argv = celery_argv("beat", "-s", str(schedule_file), "-l", "INFO", app=app)
    return ManagedProcess("beat", argv, env=env, log=log)


def flower(env: Mapping[str, str], log: Path, *, port: int, basic_auth: str,
           db_file: Path) -> ManagedProcess:
    """Flower on loopback, behind basic authentication, keeping its state in ``db_file``."""
    argv = celery_argv("flower", "--address=127.0.0.1", f"--port={port}",
                       f"--basic-auth={basic_auth}", "--persistent=True", f"--db={db_file}")
    return ManagedProcess("flower", argv, env=env, log=log)


def api(env: Mapping[str, str], log: Path, *, port: int,
        host: str = "127.0.0.1", workers: int = 1) -> ManagedProcess:
    betguard = str(Path(sys.executable).parent / "betguard")
    argv = [betguard, "api", "--host", host, "--port", str(port), "--workers", str(workers)]
    return ManagedProcess("api", argv, env=env, log=log)


def simulator(env: Mapping[str, str], log: Path, *, port_file: Path, provider_secret: str,
              wallet_secret: str, notify_secret: str | None = None, knobs: str = "{}",
              port: int = 0, dialect: str = "generic") -> ManagedProcess:
    argv = [sys.executable, "-m", "betguard_devkit.simulator", "--host", service_host(),
            "--port", str(port), "--port-file", str(port_file), "--provider-secret",
            provider_secret, "--wallet-secret", wallet_secret, "--knobs", knobs,
            "--dialect", dialect]
    if notify_secret:
        argv += ["--notify-secret", notify_secret]
    if service_host() != "127.0.0.1":  # a drill's namespace: a private network of its own
        argv.append("--container")
    name = "simulator" if dialect == "generic" else f"simulator-{dialect}"
    return ManagedProcess(name, argv, env=env, log=log)


def wait_for_file(path: Path, process: ManagedProcess, timeout: float = 15.0) -> str:
    """Wait, bounded, for a child to write ``path``; fail naming the child and its log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return path.read_text().strip()
        if not process.alive():
            break
        time.sleep(0.05)
    tail = process.log.read_text(errors="replace")[-2000:] if process.log.exists() else ""
    raise RuntimeError(f"{process.name} did not start; its log ends with:\n{tail}")
