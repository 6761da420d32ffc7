"""The property tests' world: their own PostgreSQL database beside the stack's, the
stack's simulator (faults off while they run) and a terminal line saying how much ran."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from betguard.models.store.db import Database
from betguard.models.store.migrate import upgrade
from betguard.services.context import Context
from tests.integration.harness import Stack
from tests.property.tally import TALLY

DATABASE = "property"
# Every random fault the simulator can inject, switched off: the invariants below
# count provider queries per claimed check, which a retried HTTP call would blur.
FAULT_FREE = {"latency_ms": 0.0, "error_rate": 0.0, "timeout_rate": 0.0, "malformed_rate": 0.0,
              "bad_signature_rate": 0.0, "outage": False, "outage_windows": [],
              "wallet_error_rate": 0.0, "wallet_timeout_rate": 0.0}


@dataclass(frozen=True)
class World:
    """A context on the property database, with the stack's real provider and wallet clients."""

    context: Context
    sim_url: str
    http: requests.Session = field(default_factory=requests.Session)  # keeps connections open

    @property
    def db(self) -> Database:
        return self.context.db

    def sim(self, method: str, path: str, body: object | None = None) -> Any:
        response = self.http.request(method, self.sim_url + path, json=body, timeout=10)
        response.raise_for_status()
        return response.json()


@pytest.fixture(scope="session")
def world(stack: Stack) -> Iterator[World]:
    url = stack.postgres.create_database(DATABASE)
    upgrade(url)
    db = Database(url, pool_size=4)
    # The stack's workers and beat only know the stack's database: they never see these bets.
    context = dataclasses.replace(stack.context, db=db, notifier=None)
    world = World(context, stack.sim_url)
    knobs = world.sim("GET", "/_sim/knobs")
    world.sim("POST", "/_sim/knobs", FAULT_FREE)
    try:
        yield world
    finally:
        world.sim("POST", "/_sim/knobs", knobs)
        world.http.close()
        db.dispose()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TALLY.examples:
        terminalreporter.write_line(TALLY.summary())
