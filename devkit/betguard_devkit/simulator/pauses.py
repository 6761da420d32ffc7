"""The simulator's own collector pauses, timed. The simulator stands in for a provider
and stamps each request as it arrives: a long pause of its own garbage collector
would show as a burst of arrivals right after it that no sender caused. The bench
reads them (``GET /_sim/pauses``) beside the catch-up's busiest second."""

from __future__ import annotations

import gc
import time
from collections import deque
from typing import Any

SHOWN_FROM = 0.02  # seconds: shorter pauses are not kept
KEPT = 1000


class CollectorPauses:
    """Collections of this process that took ``SHOWN_FROM`` seconds or more."""

    def __init__(self, *, shown_from: float = SHOWN_FROM) -> None:
        self._shown_from = shown_from
        self._pauses: deque[dict[str, Any]] = deque(maxlen=KEPT)
        self._started: tuple[float, float] | None = None

    def install(self) -> CollectorPauses:
        gc.callbacks.append(self._on_collection)
        return self

    def uninstall(self) -> None:
        gc.callbacks.remove(self._on_collection)

    def since(self, moment: float) -> list[dict[str, Any]]:
        # No lock: a collection may start while this runs, in this very thread, and its
        # callback must not wait for it. Appending to a deque is atomic.
        return [pause for pause in list(self._pauses) if pause["t"] > moment]

    def _on_collection(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = (time.time(), time.perf_counter())
            return
        if self._started is None:
            return
        began, counter = self._started
        took = time.perf_counter() - counter
        if took >= self._shown_from:
            self._pauses.append({"t": began, "seconds": round(took, 4),
                                 "generation": info.get("generation")})


_installed: CollectorPauses | None = None


def collector_pauses() -> CollectorPauses:
    """This process's pauses, timed from the first call on (one recorder a process)."""
    global _installed
    if _installed is None:
        _installed = CollectorPauses().install()
    return _installed
