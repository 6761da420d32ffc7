"""A simulator of our own for the client-level cases: its wallet faults are not
targeted at one bet, so the running stack's refunds must not be able to take them."""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from betguard_devkit import processes


@dataclass(frozen=True)
class PrivateSim:
    url: str
    provider_secret: str
    wallet_secret: str
    notify_secret: str

    def control(self, path: str, body: object | None = None) -> Any:
        if body is None:
            answer = requests.get(self.url + path, timeout=10)
        else:
            answer = requests.post(self.url + path, json=body, timeout=10)
        assert answer.status_code < 300, f"{path}: {answer.status_code} {answer.text}"
        return answer.json()

    def bet(self, fate: str, **spec: Any) -> str:
        ref = f"hostile-{secrets.token_hex(6)}"
        self.control("/_sim/bets", {"bet_ref": ref, "stake": "10.00", "currency": "EUR",
                                    "fate": fate, **spec})
        return ref

    def fault(self, fault: str, times: int, bet_ref: str | None = None) -> None:
        target = {"bet_ref": bet_ref} if bet_ref is not None else {"target": "wallet"}
        self.control("/_sim/faults", {**target, "fault": fault, "times": times})


@contextmanager
def private_simulator(base: Path) -> Iterator[PrivateSim]:
    provider_secret, wallet_secret = secrets.token_hex(16), secrets.token_hex(16)
    notify_secret = secrets.token_hex(16)
    port_file = base / "sim.port"
    process = processes.simulator(dict(os.environ), base / "simulator.log", port_file=port_file,
                                  provider_secret=provider_secret, wallet_secret=wallet_secret,
                                  notify_secret=notify_secret).start()
    try:
        port = processes.wait_for_file(port_file, process)
        yield PrivateSim(f"http://127.0.0.1:{port}", provider_secret, wallet_secret,
                         notify_secret)
    finally:
        process.stop()


def within(limit: float, call: Callable[[], object]) -> tuple[object, float]:
    """Run ``call`` in a thread; its result or exception and how long it took, or fail
    the test once ``limit`` seconds pass (the thread is left to its bounded fate)."""
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(call())
        except Exception as exc:  # noqa: BLE001 - the exception is the outcome under test
            outcome.append(exc)

    started = time.monotonic()
    worker = threading.Thread(target=run, name="bounded-call", daemon=True)
    worker.start()
    worker.join(limit)
    if worker.is_alive():
        pytest.fail(f"the call was still waiting for an answer after {limit} s")
    return outcome[0], time.monotonic() - started
