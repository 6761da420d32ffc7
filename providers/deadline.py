"""A deadline for one whole HTTP attempt: connecting, the answer's headers and its body.

requests' and urllib3's timeouts bound each socket operation, never the attempt (even
urllib3's ``Timeout(total=...)`` measures only the gaps between reads): a peer that
sends one byte every couple of seconds, its status line and headers too, never trips a
read timeout and keeps the call -- and the concurrency slot it holds -- as long as it
likes. An attempt made inside :func:`attempt_deadline` has its connection's socket shut
down when its time is up: the read blocked on it returns at once, the attempt fails as a
broken connection, and :attr:`Attempt.expired` tells the caller why, so that a body cut
short by the deadline is never mistaken for the peer's answer.

The sessions of :func:`betguard.providers.transport.make_session` make connections that
report to the attempt running on their thread (:func:`watch_connections`); one
watchdog thread per process serves every attempt, sleeping until the earliest deadline
(a timer thread per call would cost a thread start per provider call).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.poolmanager import PoolManager


def attempt_seconds(*, connect_timeout: float, read_timeout: float) -> float:
    """The whole-attempt deadline the clients use: one connect and one read timeout. A
    peer that has not finished its answer by then is no answer."""
    return connect_timeout + read_timeout


class Attempt:
    """One HTTP attempt under a deadline; ``expired`` once the watchdog cut it."""

    __slots__ = ("due", "seconds", "expired", "done", "_connections")

    def __init__(self, due: float, seconds: float) -> None:
        self.due = due
        self.seconds = seconds
        self.expired = False
        self.done = False
        self._connections: list[HTTPConnection] = []

    def too_slow(self) -> str:
        """What an attempt the deadline cut is told: no whole answer in time."""
        return f"no whole answer within the attempt's {self.seconds:g} s"


class Watchdog:
    """Shuts down the connections of attempts whose deadline passed."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._reset()

    def _reset(self) -> None:
        self._wake = threading.Condition(threading.Lock())
        self._due: list[tuple[float, int, Attempt]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, seconds: float) -> Attempt:
        attempt = Attempt(self._clock() + seconds, seconds)
        with self._wake:
            if self._thread is None:  # started by the first attempt, in this process
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name="http-attempt-watchdog")
                self._thread.start()
            heapq.heappush(self._due, (attempt.due, next(self._order), attempt))
            if self._due[0][2] is attempt:
                self._wake.notify()
        return attempt

    def disarm(self, attempt: Attempt) -> None:
        with self._wake:
            attempt.done = True  # left in the heap, dropped when it comes up

    def watch(self, attempt: Attempt, connection: HTTPConnection) -> None:
        """``connection`` serves ``attempt``: shut it down when the attempt expires (at
        once if it already has)."""
        with self._wake:
            if attempt.done or connection in attempt._connections:
                return
            attempt._connections.append(connection)
            if attempt.expired:
                _shut_down(connection)

    def _run(self) -> None:
        with self._wake:
            while True:
                now = self._clock()
                while self._due and (self._due[0][2].done or self._due[0][0] <= now):
                    _, _, attempt = heapq.heappop(self._due)
                    if not attempt.done:
                        attempt.expired = True
                        for connection in attempt._connections:
                            _shut_down(connection)
                self._wake.wait(self._due[0][0] - now if self._due else None)

    def after_fork(self) -> None:
        """A forked child has none of its parent's threads: start afresh."""
        self._reset()


def _shut_down(connection: HTTPConnection) -> None:
    sock = connection.sock
    if sock is None:  # not connected yet: ``connect`` reports back once it is
        return
    # socket.socket's own shutdown, under TLS too: the blocked read sees the end at once,
    # and nothing of the TLS session is touched from this thread. OSError: already closed.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


WATCHDOG = Watchdog()
os.register_at_fork(after_in_child=WATCHDOG.after_fork)
_current = threading.local()


@contextmanager
def attempt_deadline(seconds: float) -> Iterator[Attempt]:
    """Every connection the calling thread uses inside this block is shut down once
    ``seconds`` have passed."""
    attempt = WATCHDOG.arm(seconds)
    outer = getattr(_current, "attempt", None)
    _current.attempt = attempt
    try:
        yield attempt
    finally:
        _current.attempt = outer
        WATCHDOG.disarm(attempt)


def stop_watching(attempt: Attempt) -> None:
    """The attempt is over (its answer read): its connections are left alone from now on,
    before the connection goes back to the pool for another attempt to use."""
    WATCHDOG.disarm(attempt)


def _report(connection: HTTPConnection) -> None:
    attempt: Attempt | None = getattr(_current, "attempt", None)
    if attempt is not None:
        WATCHDOG.watch(attempt, connection)


class _WatchedHTTPConnection(HTTPConnection):
    def connect(self) -> None:
        super().connect()
        _report(self)

    def request(self, *args: Any, **kwargs: Any) -> None:
        _report(self)  # a connection kept open from an earlier call
        super().request(*args, **kwargs)


class _WatchedHTTPSConnection(HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        _report(self)

    def request(self, *args: Any, **kwargs: Any) -> None:
        _report(self)
        super().request(*args, **kwargs)


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


def watch_connections(manager: PoolManager) -> None:
    """Make ``manager``'s connections report to the attempt running on their thread."""
    manager.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}
