"""Pragmatic names rounds, not bets: its calls and feeds take a round, its wallet calls
carry each bet's own ``reference``, and a round may hold several bets. betguard keys each
bet (and its refund) by that reference and asks the provider about the bet's round
(``<game_id>:<round_id>``), so the provider's own refund of a bet and betguard's are
recognised as one by the wallet, each bet of a round is refunded once under its own
key, and a round's payout is never paid once per bet. Real workers, beat, the feed
mirror, the Pragmatic simulator and the wallet over HTTP."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import requests

from betguard.models.domain.errors import InvalidBet
from betguard.models.domain.snapshot import BetSnapshot
from betguard.models.domain.states import BetState
from betguard.providers.wallet import refund_idempotency_key
from betguard.services.intake import place_bet
from betguard.services.reconcile import reconcile
from tests.integration.harness import Stack

pytestmark = pytest.mark.integration

PROVIDER = "pragmatic"  # unknown_grace 3 s, deadline 12 s, feed_lag 1 s
GAME = "vs20rounds"


def a_round(stack: Stack, stake: str, **spec: Any) -> tuple[str, str]:
    """A round played for ``player-1`` at the provider: its (gameId, roundId)."""
    round_id = str(10**11 + secrets.randbelow(9 * 10**11))
    stack.pragmatic_sim.call("POST", "/_sim/pragmatic/rounds",
             {"bet_ref": f"{GAME}:{round_id}", "stake": stake, "currency": "EUR", "lag": 0,
              "player_id": "player-1", **spec}, 201)
    return GAME, round_id


def bets_of(stack: Stack, game_and_round: tuple[str, str], *stakes: str) -> list[BetSnapshot]:
    """The round's bets as the game server registers them: each with the reference
    Pragmatic's wallet call gave it, all with the round's gameId and roundId."""
    game, round_id = game_and_round
    return [place_bet(stack.context, {
        "provider": PROVIDER, "bet_ref": secrets.token_hex(12), "player_id": "player-1",
        "game_id": game, "round_id": round_id, "stake": stake, "currency": "EUR"}).bet
        for stake in stakes]


def rollback(stack: Stack, reference: str, amount: str) -> requests.Response:
    """Pragmatic pushes its own ``refund`` of one bet, keyed by the bet's reference."""
    return requests.post(stack.sim_url + "/_sim/rollback", json={
        "provider": PROVIDER, "bet_ref": reference, "amount": amount, "currency": "EUR"},
        timeout=10)


def payments(stack: Stack, reference: str) -> list[tuple[str, str]]:
    """Who paid the bet's stake back, and how much: the wallet's ledger."""
    return [(r["by"], r["amount"]) for r in stack.truth()["refunds"].values()
            if r["bet_ref"] == reference]


def refunded_by(stack: Stack, bet: BetSnapshot) -> str:
    [event] = [e for e in stack.history(bet.id) if e.kind == "bet_refunded"]
    assert event.detail["idempotency_key"] == refund_idempotency_key(PROVIDER, bet.bet_ref)
    return str(event.detail["paid_by"])


def test_the_providers_refund_of_a_bet_and_betguards_are_one_payment_each_bet_once(
    stack: Stack,
) -> None:
    first, second = bets_of(stack, a_round(stack, "10.00", fate="unknown"), "6.00", "4.00")
    pushed = rollback(stack, first.bet_ref, "6.00")
    assert pushed.status_code == 201, pushed.text

    for bet in (first, second):
        stack.wait_for_state(bet.id, BetState.REFUNDED)

    assert refunded_by(stack, first) == "provider"  # the wallet knew it as the same bet
    assert refunded_by(stack, second) == "betguard"
    assert payments(stack, first.bet_ref) == [("provider", "6.00")]
    assert payments(stack, second.bet_ref) == [("betguard", "4.00")]
    cancels = [e.detail for bet in (first, second) for e in stack.history(bet.id)
               if e.kind == "cancel_answered"]
    assert cancels and all(c["accepted"] for c in cancels)  # cancelRound fenced the round


def test_a_won_round_of_two_bets_goes_to_a_person_instead_of_paying_its_win_twice(
    stack: Stack,
) -> None:
    game_and_round = a_round(stack, "10.00", fate="delayed", delay=0.5, payout="31.50")
    bets = bets_of(stack, game_and_round, "6.00", "4.00")

    for bet in bets:
        assert stack.wait_for_state(bet.id, BetState.IN_REVIEW).payout is None
        [review] = stack.reviews(bet.id)
        assert review.reason == "ambiguous"
        assert f"round {GAME}:{game_and_round[1]} paid 31.50 EUR" in review.detail["why"]
        assert "cannot be split" in review.detail["why"]
    time.sleep(1.5)  # more feed pulls: the row stays the same, the bets stay with a person
    assert all(stack.bet(bet.id).state is BetState.IN_REVIEW for bet in bets)


def test_a_lost_round_of_two_bets_settles_both_at_zero(stack: Stack) -> None:
    bets = bets_of(stack, a_round(stack, "10.00", fate="delayed", delay=0.5, payout="0.00"),
                   "6.00", "4.00")

    for bet in bets:
        settled = stack.wait_for_state(bet.id, BetState.SETTLED)
        assert settled.payout == Decimal("0.00")


def test_a_bet_alone_in_its_round_settles_on_the_rounds_payout_under_its_reference(
    stack: Stack,
) -> None:
    [bet] = bets_of(stack, a_round(stack, "10.00", fate="delayed", delay=0.5,
                                   payout="12.00"), "10.00")

    settled = stack.wait_for_state(bet.id, BetState.SETTLED)

    assert settled.payout == Decimal("12.00")
    assert settled.round_ref == f"{GAME}:{stack.row(bet.id).round_id}" != settled.bet_ref


def test_reconciliation_compares_a_rounds_bets_with_the_rounds_one_row(stack: Stack) -> None:
    start = datetime.now(UTC)
    lost = bets_of(stack, a_round(stack, "10.00", fate="delayed", delay=0.2, payout="0.00"),
                   "6.00", "4.00")
    for bet in lost:
        stack.wait_for_state(bet.id, BetState.SETTLED)
    time.sleep(2.5)  # past the feed's lag and a pull: the horizon covers the round

    report = reconcile(stack.context, PROVIDER, start, datetime.now(UTC))

    mine = {lost[0].round_ref}
    assert [d.kind for d in report.differences if d.bet_ref in mine] == []
    assert report.compared_here >= 1 and report.compared_there >= 1


@pytest.mark.parametrize(("field", "game", "round_id"), [
    ("round_id", GAME, "round-7"), ("round_id", GAME, "007"), ("game_id", "vs20-x", "7")])
def test_a_bet_whose_game_or_round_cannot_name_a_pragmatic_round_is_refused_naming_it(
    stack: Stack, field: str, game: str, round_id: str,
) -> None:
    with pytest.raises(InvalidBet) as refused:
        place_bet(stack.context, {"provider": PROVIDER, "bet_ref": secrets.token_hex(12),
                                  "player_id": "player-1", "game_id": game,
                                  "round_id": round_id, "stake": "1.00", "currency": "EUR"})

    assert refused.value.fields == [field]
    assert "names the bet's round by its game_id and round_id" in str(refused.value)
