"""A provider that drips its answers -- one byte every half second, the status line and
headers too -- never has more of betguard's calls open than its ``max_concurrency``,
counted at the provider (the proxy in front of the simulator): each attempt ends at
its whole-attempt deadline, well inside its concurrency slot's lease, so no slot is
handed to another call while the first still holds the provider. Its breaker never
opens (``breaker_failures = 1000``): only the bulkhead and the deadline bound it."""

from __future__ import annotations

import secrets

import pytest
import requests

from betguard.models.domain.events import EventKind
from betguard.models.domain.states import BetState
from betguard.services.intake import place_bets
from betguard_devkit.neighbours import DripProxy
from tests.integration.harness import Stack, bet_payload, wait_until

pytestmark = pytest.mark.integration

BETS = 10
# Requests the dripping provider must have seen before it is judged: several rounds of
# its two slots, so that a slot handed on under a call still running would have shown.
ROUNDS_OF_REQUESTS = 10


def test_a_dripping_provider_never_has_more_calls_open_than_its_limit(stack: Stack) -> None:
    drip = stack.drip
    assert isinstance(drip, DripProxy)
    refs = [f"drip-{secrets.token_hex(6)}" for _ in range(BETS)]
    bets = [{"bet_ref": ref, "stake": "10.00", "currency": "EUR", "fate": "returned",
             "payout": "15.00"} for ref in refs]
    requests.post(stack.sim_url + "/_sim/bets", json={"bets": bets},
                  timeout=30).raise_for_status()
    drip.held.reset()

    try:
        placed = place_bets(stack.context, [bet_payload("dripping", ref) for ref in refs])
        ids = [item.bet.id for item in placed if item.bet is not None]
        wait_until(lambda: drip.held.total >= ROUNDS_OF_REQUESTS, timeout=90,
                   describe=lambda: f"requests seen: {drip.held}")
        peak = drip.held.peak
    finally:
        drip.seconds_per_byte = 0.0  # the bets settle now, and leave the stack alone

    limit = stack.context.policy("dripping").max_concurrency
    assert peak <= limit, drip.held
    errors = [str(event.detail.get("message", "")) for bet_id in ids
              for event in stack.history(bet_id) if event.kind == EventKind.PROVIDER_ERROR.value]
    assert any("no whole answer within" in message for message in errors), errors
    for bet_id in ids:  # and once it answers at the pace of a provider, they settle
        assert stack.wait_for_state(bet_id, BetState.SETTLED).payout == 15
