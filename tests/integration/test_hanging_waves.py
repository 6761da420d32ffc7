"""A provider that holds every request past the read timeout sees the calls of its
first round, then one probe at a time until its breaker opens, then one trial a
cooldown -- not a fresh round of ``max_concurrency`` calls every read timeout, each
left held at the provider by the call that gave up on it (the issue counted 12 open at
once against a limit of 4: every call tried three times, and the calls waiting for a
slot went out as soon as one came free).

The "hanging_wide" provider has the bulkhead, breaker and attempts at their defaults;
the hanging simulator holds each request ``HOLD_SECONDS`` whoever waits for it, so the
requests it holds at once are those that arrived within that long of each other."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
import requests

from betguard.models.domain.events import EventKind
from betguard.models.domain.states import BetState
from betguard.services.intake import place_bets
from betguard_devkit.neighbours import most_within
from tests.integration.harness import Stack, bet_payload, register_returned, wait_until

pytestmark = pytest.mark.integration

BETS = 40
HOLD_SECONDS = 3.0  # three times the provider's read timeout


def knobs(stack: Stack, **changes: float) -> None:
    requests.post(stack.hanging_sim_url + "/_sim/knobs", json=changes,
                  timeout=30).raise_for_status()


def arrivals(stack: Stack, refs: set[str]) -> list[float]:
    log = requests.get(stack.hanging_sim_url + "/_sim/log", timeout=30).json()["requests"]
    return sorted(entry["t"] for entry in log
                  if entry["path"].removeprefix("/bets/").split("/")[0] in refs)


@pytest.fixture
def held(stack: Stack) -> Iterator[None]:
    knobs(stack, latency_ms=HOLD_SECONDS * 1000)
    yield
    knobs(stack, latency_ms=0)


def test_a_hanging_provider_holds_at_most_its_limit_and_one_probe(
    stack: Stack, held: None
) -> None:
    refs = [f"wave-{secrets.token_hex(6)}" for _ in range(BETS)]
    register_returned(stack.hanging_sim_url, refs)
    placed = place_bets(stack.context, [bet_payload("hanging_wide", ref) for ref in refs])
    ids = [item.bet.id for item in placed if item.bet is not None]

    def errors() -> list[str]:
        return [str(event.detail.get("message", "")) for bet_id in ids
                for event in stack.history(bet_id)
                if event.kind == EventKind.PROVIDER_ERROR.value]

    # the breaker opened, and its cooldown (3 s) has passed at least once since
    wait_until(lambda: any("circuit breaker open" in e for e in errors())
               and len(arrivals(stack, set(refs))) >= 7, timeout=60,
               describe=lambda: f"{len(arrivals(stack, set(refs)))} requests")
    seen = arrivals(stack, set(refs))

    limit = stack.context.policy("hanging_wide").max_concurrency
    assert most_within(seen, HOLD_SECONDS) <= limit + 1, \
        [round(at - seen[0], 2) for at in seen]
    knobs(stack, latency_ms=0)
    for bet_id in ids:  # once it answers again, its bets settle
        assert stack.wait_for_state(bet_id, BetState.SETTLED).payout == 15
