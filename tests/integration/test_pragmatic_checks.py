"""Pragmatic bets through the whole of betguard (workers, beat, the feed mirror): a
round the provider lists as incomplete waits, and its result comes from the finished
rounds feed of its environment; a round the provider never played is fenced by
cancelRound and refunded; a round the provider voids is refunded from its void row; a
round that finished but is not in the feed yet answers the cancel with "already
completed" and waits for the feed instead of being refunded."""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import Any

import pytest

from betguard.models.domain.states import BetState
from betguard.providers.client_settings import ProviderClientSettings
from betguard.providers.pragmatic import PragmaticProvider
from betguard.services.intake import place_bet
from tests.integration.harness import Stack, bet_payload

pytestmark = pytest.mark.integration

PROVIDER = "pragmatic"  # unknown_grace 3 s, deadline 12 s, environments "main" and "asia"




def place(stack: Stack, *, environment: str = "main", **spec: Any) -> tuple[int, str]:
    """A round played for ``player-1`` in ``environment``, then placed with betguard."""
    ref = f"vs20checks:{10**11 + secrets.randbelow(9 * 10**11)}"
    stack.pragmatic_sim.call("POST", "/_sim/pragmatic/rounds",
        {"bet_ref": ref, "stake": "10.00", "currency": "EUR", "lag": 0,
         "environment": environment,
         "player_id": "player-1", **spec}, expect=201)
    bet = place_bet(stack.context, bet_payload(PROVIDER, ref)).bet
    return bet.id, ref


def answers(stack: Stack, bet_id: int) -> list[dict[str, Any]]:
    return [e.detail for e in stack.history(bet_id) if e.kind == "provider_answered"]


def test_a_round_of_another_environment_settles_from_that_environments_feed(
    stack: Stack,
) -> None:
    bet_id, ref = place(stack, environment="asia", fate="delayed", delay=1.0, payout="31.50")

    bet = stack.wait_for_state(bet_id, BetState.SETTLED)

    assert bet.payout == Decimal("31.50")
    assert answers(stack, bet_id)[0]["status"] == "pending"  # listed as incomplete first
    assert answers(stack, bet_id)[-1]["via"] == "mirror"  # the result came from the feed
    assert "cancel_answered" not in stack.kinds(bet_id)


def test_a_round_the_provider_never_played_is_fenced_by_cancel_round_and_refunded(
    stack: Stack,
) -> None:
    bet_id, ref = place(stack, fate="unknown")

    stack.wait_for_state(bet_id, BetState.REFUNDED)

    cancel = next(e.detail for e in stack.history(bet_id) if e.kind == "cancel_answered")
    assert cancel["accepted"] is True
    fact = stack.pragmatic_sim.call("GET", "/_sim/truth")["bets"][ref]
    assert fact["fenced"] is True and fact["settled"] is False  # it can never settle now


def test_a_round_completed_but_not_yet_in_the_feed_waits_for_it_instead_of_a_refund(
    stack: Stack,
) -> None:
    # It finishes after 2 s and shows in the feed 4 s later: when its "never saw it" is
    # believed (3 s) the cancel finds it completed, so its result must come from the feed.
    with stack.pragmatic_sim.knobs(feed_lag_range=[4.0, 4.0]):
        bet_id, ref = place(stack, fate="delayed", delay=2.0, payout="12.00")
        bet = stack.wait_for_state(bet_id, BetState.SETTLED, BetState.REFUNDED,
                                   BetState.IN_REVIEW)

    assert bet.state is BetState.SETTLED and bet.payout == Decimal("12.00")
    cancel = next(e.detail for e in stack.history(bet_id) if e.kind == "cancel_answered")
    assert cancel["accepted"] is False and cancel["status"] == "finished"
    assert "refund_decided" not in stack.kinds(bet_id)


def test_a_round_the_provider_voids_is_refunded_from_its_void_row(stack: Stack) -> None:
    bet_id, ref = place(stack, fate="never")
    voiding = PragmaticProvider(ProviderClientSettings(
        name=PROVIDER, base_url=stack.pragmatic_sim_url, secret=stack.provider_secret(PROVIDER),
        options={"secure_login": "test-login"}))
    assert voiding.cancel(ref, "player-1").accepted  # the provider's own void, not betguard's

    stack.wait_for_state(bet_id, BetState.REFUNDED)

    assert "cancel_answered" not in stack.kinds(bet_id)  # the V row decided it
    assert answers(stack, bet_id)[-1]["status"] == "cancelled"
    assert answers(stack, bet_id)[-1]["via"] == "mirror"
