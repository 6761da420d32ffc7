"""A history-only provider (PG-like: no status call, no cancel) end to end, through the
Celery workers and beat: its bets are known from its feed's mirror only, and nothing
fences them, so betguard never refunds one on its own word.

- a result in the feed settles the bet with the provider's payout;
- a bet the provider never settles goes to a person at its deadline, even under a
  refund policy;
- a provider that resolves pending bets itself (``provider_resolves_after``): the
  deadline waits for it, and the round's last hand, when the provider completes it,
  settles the bet with what it paid -- no refund, no person.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from betguard.models.domain.escalation import WAITING_FOR_PROVIDER
from betguard.models.domain.events import EventKind, ReviewReason
from betguard.models.domain.states import BetState
from betguard.services.intake import place_bet
from tests.integration.harness import Stack, bet_payload, pg_round_id

SELF_RESOLVE_AFTER = 6.0  # the pgsoft_resolving policy's provider_resolves_after



def place(stack: Stack, provider: str, *, fate: str, **sim: Any) -> int:
    """Play the game server: the round at the PG-like provider, then the bet with betguard."""
    ref = pg_round_id()
    stack.pgsoft_sim.call("POST", "/_sim/bets",
                          {"bet_ref": ref, "stake": "10.00", "currency": "EUR", "fate": fate,
                           **sim}, expect=201)
    return place_bet(stack.context, bet_payload(provider, ref)).bet.id




@pytest.fixture
def self_resolving(stack: Stack) -> Iterator[None]:
    """The PG-like simulator resolves bets pending SELF_RESOLVE_AFTER seconds itself."""
    with stack.pgsoft_sim.knobs(self_resolve_after=SELF_RESOLVE_AFTER):
        yield


def test_a_pgsoft_bet_settles_from_the_feed_with_the_provider_s_payout(stack: Stack) -> None:
    bet_id = place(stack, "pgsoft", fate="delayed", delay=1.5, payout="37.50")
    bet = stack.wait_for_state(bet_id, BetState.SETTLED, BetState.REFUND_PENDING,
                               BetState.REFUNDED, BetState.IN_REVIEW)
    assert bet.state is BetState.SETTLED, stack.kinds(bet_id)
    assert bet.payout == Decimal("37.50")
    answers = stack.details(bet_id, EventKind.PROVIDER_ANSWERED)
    assert answers and all(answer["via"] == "mirror" for answer in answers)
    assert answers[-1]["status"] == "settled"
    assert Decimal(answers[-1]["payout"]) == Decimal("37.50")
    # the trace id of the GetHistory call that brought the result, for PG support
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}",
                        answers[-1]["trace_id"])
    # Asked nothing the provider cannot answer: no status call, no cancel.
    assert stack.details(bet_id, EventKind.PROVIDER_ERROR) == []
    assert stack.details(bet_id, EventKind.CANCEL_ANSWERED) == []


def test_free_spin_rounds_settle_on_the_sum_of_their_hands_not_their_first(
        stack: Stack) -> None:
    with stack.pgsoft_sim.knobs(free_spin_share=1.0):
        bet_ids = [place(stack, "pgsoft", fate="delayed", delay=1.0, payout="10.00")
                   for _ in range(5)]
        bets = [stack.wait_for_state(bet_id, BetState.SETTLED, BetState.REFUND_PENDING,
                                     BetState.REFUNDED, BetState.IN_REVIEW)
                for bet_id in bet_ids]
    assert [(bet.state, bet.payout) for bet in bets] == [(BetState.SETTLED, Decimal("10.00"))] * 5
    for bet in bets:
        hands = stack.pgsoft_sim.call("GET", f"/_sim/pgsoft/rounds/{bet.bet_ref}")["records"]
        assert [hand["handsStatus"] for hand in hands] == [1, 1, 2]  # three hands each
        [answer] = [a for a in stack.details(bet.id, EventKind.PROVIDER_ANSWERED)
                    if a["status"] == "settled"]
        assert Decimal(answer["payout"]) == Decimal("10.00")


def test_a_bet_the_provider_never_settles_goes_to_a_person_at_its_deadline(
        stack: Stack) -> None:
    bet_id = place(stack, "pgsoft", fate="never")  # its policy: refund at the deadline
    bet = stack.wait_for_state(bet_id, BetState.IN_REVIEW, BetState.REFUND_PENDING,
                               BetState.REFUNDED, BetState.SETTLED)
    assert bet.state is BetState.IN_REVIEW, stack.kinds(bet_id)
    [review] = stack.reviews(bet_id)
    assert review.reason == ReviewReason.DEADLINE.value
    assert "no cancel call" in str(review.detail.get("why") or stack.kinds(bet_id))
    assert stack.context.clock() >= bet.deadline
    answers = stack.details(bet_id, EventKind.PROVIDER_ANSWERED)
    assert answers[-1]["status"] == "pending" and answers[-1]["via"] == "mirror"
    kinds = stack.kinds(bet_id)
    for never in (EventKind.CANCEL_ANSWERED, EventKind.CANCEL_FAILED,
                  EventKind.REFUND_DECIDED):
        assert never.value not in kinds
    assert stack.wallet_refunds(bet.bet_ref) == []


def test_a_bet_the_provider_resolves_itself_settles_after_waiting_past_its_deadline(
        stack: Stack, self_resolving: None) -> None:
    bet_id = place(stack, "pgsoft_resolving", fate="never")
    bet = stack.wait_for_state(bet_id, BetState.REFUNDED, BetState.IN_REVIEW,
                               BetState.SETTLED)
    assert bet.state is BetState.SETTLED, stack.kinds(bet_id)
    waits = [d for d in stack.details(bet_id, EventKind.CHECK_RESCHEDULED)
             if WAITING_FOR_PROVIDER in d["why"]]
    assert waits, "the deadline did not wait for the provider's own resolution"
    assert stack.reviews(bet_id) == []
    answers = stack.details(bet_id, EventKind.PROVIDER_ANSWERED)
    assert answers[-1]["status"] == "settled" and answers[-1]["via"] == "mirror"
    truth = stack.pgsoft_sim.call("GET", "/_sim/truth")["bets"][bet.bet_ref]
    assert truth["settled"] and not truth["cancelled"]
    assert bet.payout == Decimal(truth["settled_payout"])
    assert stack.pgsoft_sim.call("GET", f"/_sim/pgsoft/rounds/{bet.bet_ref}")["self_resolved_at"]
    assert stack.wallet_refunds(bet.bet_ref) == []
