"""Small measuring tools: bounded waits, process memory and CPU from /proc, rates read
from the simulator's own request log."""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


class Timeout(RuntimeError):
    """Raised when a bounded wait runs out."""


def wait_until(probe: Callable[[], T], *, timeout: float, interval: float = 0.2,
               what: str = "condition") -> T:
    """Poll ``probe`` until it returns something truthy; bounded in time."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise Timeout(f"{what} not reached within {timeout:.0f} s")
        time.sleep(interval)


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


def tree(pid: int) -> list[int]:
    """``pid`` and its descendants (a prefork worker's children do the work)."""
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        todo.extend(children(current))
    return pids


def rss_bytes(pid: int) -> int:
    """Resident memory of ``pid`` and its descendants."""
    total = 0
    for each in tree(pid):
        try:
            total += int(Path(f"/proc/{each}/statm").read_text().split()[1]) * PAGE
        except (OSError, ValueError, IndexError):
            continue
    return total


def cpu_seconds(pid: int) -> float:
    """User and system CPU of ``pid`` and its descendants."""
    total = 0
    for each in tree(pid):
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, ValueError, IndexError):
            continue
    return total / CLOCK_TICKS


def cpu_by_process() -> dict[int, tuple[str, float]]:
    """Every process's command and CPU seconds, to say afterwards who used the machine.
    A child started by ``multiprocessing`` (its command names only that) is given its
    parent's command: the API's server processes (``--workers``) count as the API."""
    found: dict[int, tuple[str, float]] = {}
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            # Whole: a long path to the interpreter must not cut off the worker's queue.
            cmd = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            pid = int(stat.parent.name)
            found[pid] = (cmd.strip(), (int(fields[11]) + int(fields[12])) / CLOCK_TICKS)
            parents[pid] = int(fields[1])
        except (OSError, ValueError, IndexError):
            continue
    for pid, (cmd, cpu) in found.items():
        parent = found.get(parents[pid])
        if "multiprocessing" in cmd and parent is not None and "betguard api" in parent[0]:
            found[pid] = (parent[0], cpu)
    return found


def cpu_shares(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]],
               seconds: float, top: int = 6) -> list[tuple[str, float]]:
    """The busiest processes between two ``cpu_by_process`` readings, in cores (those
    that ended meanwhile are missed)."""
    used: dict[str, float] = {}
    for pid, (cmd, cpu) in after.items():
        name = _short(cmd)  # a process started meanwhile counts whole
        used[name] = used.get(name, 0.0) + cpu - (before[pid][1] if pid in before else 0.0)
    busiest = sorted(used.items(), key=lambda item: -item[1])[:top]
    return [(cmd, round(cpu / seconds, 2)) for cmd, cpu in busiest if cpu > 0]


def _short(cmd: str) -> str:
    for marker, name in (("-Q betguard.provider", "provider worker"),
                         ("-Q betguard.default", "default worker"),
                         ("-Q bench.noop", "no-op worker"), ("-Q bench.naive", "naive worker"),
                         ("betguard_devkit.simulator", "simulator"), ("postgres", "postgres"),
                         ("[sentinel]", "sentinel"), ("redis-server", "redis"),
                         ("celery -A betguard.tasks.app beat", "beat"), ("betguard api", "api"),
                         ("multiprocessing", "load generator"), ("-m bench", "bench driver")):
        if marker in cmd:
            return name
    return cmd[:40] or "?"


def requests_in(log: Iterable[dict[str, Any]], marker: str, start: float,
                end: float) -> list[dict[str, Any]]:
    """Provider requests about bets whose reference contains ``marker``, in [start, end)."""
    return [entry for entry in log
            if marker in entry["path"] and start <= entry["t"] < end
            and not entry["path"].startswith("/refunds")]


def per_second(entries: Iterable[dict[str, Any]]) -> Counter[int]:
    return Counter(int(entry["t"]) for entry in entries)


def load_average() -> float:
    return os.getloadavg()[0]
