"""One bad provider never starves the rest: a provider whose answers outlast the read
timeout (a second simulator, holding every request for seconds) and a healthy one,
their bets placed at the same moment, checked by the same provider worker.

The hanging provider never has more calls in flight than its ``max_concurrency``; its
circuit breaker opens and its checks are refused without a call (recorded in the bets'
history); every healthy bet settles meanwhile; and once the provider answers again,
its bets settle too."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from betguard.models.domain.events import EventKind
from betguard.models.domain.states import BetState
from betguard.services.intake import place_bets
from betguard_devkit.neighbours import most_within
from tests.integration.harness import Stack, bet_payload, register_returned, wait_until

pytestmark = pytest.mark.integration

HANGING_BETS, HEALTHY_BETS = 40, 20
LATENCY_MS = 3000  # every answer of the hanging provider: three times its read timeout


@dataclass(frozen=True)
class Storm:
    since: float  # the hanging simulator's clock before the first bet was placed
    hanging: list[int]  # bet ids
    healthy: list[int]


def hanging_sim(stack: Stack, method: str, path: str, body: object | None = None) -> Any:
    response = requests.request(method, stack.hanging_sim_url + path, json=body, timeout=30)
    response.raise_for_status()
    return response.json()



@pytest.fixture(scope="module")
def storm(stack: Stack) -> Iterator[Storm]:
    hanging_refs = [f"hang-{secrets.token_hex(6)}" for _ in range(HANGING_BETS)]
    healthy_refs = [f"well-{secrets.token_hex(6)}" for _ in range(HEALTHY_BETS)]
    register_returned(stack.hanging_sim_url, hanging_refs)
    register_returned(stack.sim_url, healthy_refs)
    hanging_sim(stack, "POST", "/_sim/knobs", {"latency_ms": LATENCY_MS})
    since = time.time()
    try:
        placed = place_bets(stack.context, [
            *(bet_payload("hanging", ref) for ref in hanging_refs),
            *(bet_payload("healthy", ref) for ref in healthy_refs)])
        ids = [item.bet.id for item in placed if item.bet is not None]
        assert len(ids) == HANGING_BETS + HEALTHY_BETS
        yield Storm(since, ids[:HANGING_BETS], ids[HANGING_BETS:])
    finally:
        hanging_sim(stack, "POST", "/_sim/knobs", {"latency_ms": 0})


def provider_errors(stack: Stack, bet_ids: list[int]) -> list[str]:
    return [str(event.detail.get("error")) for bet_id in bet_ids
            for event in stack.history(bet_id) if event.kind == EventKind.PROVIDER_ERROR.value]


def test_every_healthy_bet_settles_beside_a_provider_that_hangs(
    stack: Stack, storm: Storm
) -> None:
    for bet_id in storm.healthy:
        assert stack.wait_for_state(bet_id, BetState.SETTLED).payout == 15
    assert "ProviderBusy" not in provider_errors(stack, storm.healthy)


def test_the_hanging_providers_breaker_opens_and_its_checks_are_refused_without_a_call(
    stack: Stack, storm: Storm
) -> None:
    # Both, not the first refusal alone: refusals (a probe in flight, then the breaker
    # open) may be recorded before the group whose calls timed out concludes.
    wait_until(lambda: {"ProviderUnavailable", "CircuitOpen"}
               <= set(provider_errors(stack, storm.hanging)),
               describe=lambda: f"errors seen: {set(provider_errors(stack, storm.hanging))}")

    errors = provider_errors(stack, storm.hanging)
    assert {"ProviderUnavailable", "CircuitOpen"} <= set(errors)
    assert all(stack.bet(bet_id).state == BetState.PENDING for bet_id in storm.hanging)


def test_the_hanging_provider_never_has_more_calls_in_flight_than_its_limit(
    stack: Stack, storm: Storm
) -> None:
    policy = stack.context.policy("hanging")
    log = hanging_sim(stack, "GET", f"/_sim/log?since={storm.since}")["requests"]
    arrivals = [entry["t"] for entry in log if entry["path"].startswith("/bets/")]

    # A call holds its slot from before it is sent until its read timeout has passed, so
    # requests arriving closer together than the read timeout each hold a slot of their own.
    assert arrivals
    assert most_within(arrivals, 0.8 * policy.read_timeout) <= policy.max_concurrency


def test_once_the_hanging_provider_answers_again_its_bets_settle_too(
    stack: Stack, storm: Storm
) -> None:
    hanging_sim(stack, "POST", "/_sim/knobs", {"latency_ms": 0})

    for bet_id in storm.hanging:
        assert stack.wait_for_state(bet_id, BetState.SETTLED).payout == 15
    assert stack.reviews(storm.hanging[0]) == []


def test_a_bet_reaching_its_deadline_with_the_breaker_open_goes_to_a_person_without_a_cancel(
    stack: Stack,
) -> None:
    ref = f"cut-{secrets.token_hex(6)}"
    register_returned(stack.hanging_sim_url, [ref])
    hanging_sim(stack, "POST", "/_sim/knobs", {"latency_ms": LATENCY_MS})
    try:
        [placed] = place_bets(stack.context, [bet_payload("hanging_deadline", ref)])
        assert placed.bet is not None
        bet = stack.wait_for_state(placed.bet.id, BetState.IN_REVIEW)
    finally:
        hanging_sim(stack, "POST", "/_sim/knobs", {"latency_ms": 0})

    history = stack.history(bet.id)
    cancel_errors = [event.detail["error"] for event in history
                     if event.kind == EventKind.CANCEL_FAILED.value]
    assert cancel_errors == ["CircuitOpen"]
    assert [review.reason for review in stack.reviews(bet.id)] == ["deadline"]
    paths = [entry["path"] for entry in hanging_sim(stack, "GET", "/_sim/log")["requests"]]
    assert f"/bets/{ref}" in paths and f"/bets/{ref}/cancel" not in paths
