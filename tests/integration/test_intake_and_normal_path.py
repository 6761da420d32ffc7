"""Intake is durable and idempotent; the normal path settles without asking the provider."""

from __future__ import annotations

import time

import pytest

from betguard.models.domain.errors import BetNotFound, ConflictingBet, InvalidBet
from betguard.models.domain.states import BetState
from betguard.models.store import repository
from betguard.services.intake import place_bet
from betguard.services.results import ResultOutcome, report_result
from tests.integration.harness import Stack, bet_payload, wait_until

pytestmark = pytest.mark.integration


def test_placing_the_same_bet_twice_gives_one_bet(stack: Stack) -> None:
    first = stack.place("patient", fate="returned")
    again = place_bet(stack.context, bet_payload("patient", first.bet_ref))

    assert again.created is False
    assert again.bet.id == first.id
    assert stack.kinds(first.id).count("bet_placed") == 1


def test_the_same_reference_with_another_stake_is_refused_naming_the_field(stack: Stack) -> None:
    bet = stack.place("patient", fate="returned")
    changed = bet_payload("patient", bet.bet_ref, stake="99.00")

    with pytest.raises(ConflictingBet, match="stake") as refused:
        place_bet(stack.context, changed)

    assert refused.value.fields == ["stake"]
    assert stack.bet(bet.id).stake == bet.stake


def test_a_malformed_bet_is_refused_naming_each_field_and_nothing_is_written(stack: Stack) -> None:
    bad = {**bet_payload("patient", "bad-1"), "stake": "-5", "currency": "euro"}

    with pytest.raises(InvalidBet) as refused:
        place_bet(stack.context, bad)

    assert set(refused.value.fields) == {"stake", "currency"}
    with pytest.raises(BetNotFound), stack.context.db.unit_of_work() as session:
        repository.get_by_ref(session, "patient", "bad-1")


def test_the_celery_intake_task_is_idempotent_and_answers_refusals(stack: Stack) -> None:
    from betguard.tasks.bets import place

    bet = stack.place("patient", fate="returned")
    replay = place.delay(bet_payload("patient", bet.bet_ref)).get(timeout=30)
    conflict = place.delay(bet_payload("patient", bet.bet_ref, stake="1.00")).get(timeout=30)
    malformed = place.delay({"provider": "patient"}).get(timeout=30)

    assert replay == {"status": "exists", "bet_id": bet.id, "state": "pending"}
    assert conflict["status"] == "conflict" and conflict["fields"] == ["stake"]
    assert malformed["status"] == "rejected"
    assert {"bet_ref", "stake", "currency"} <= set(malformed["fields"])


def test_a_reported_result_settles_the_bet_and_the_provider_is_never_queried(
    stack: Stack,
) -> None:
    bet = stack.place("patient", fate="returned", payout="25.00")

    outcome = report_result(stack.context, "patient", bet.bet_ref, payout="25.00", currency="EUR")

    assert outcome is ResultOutcome.SETTLED
    settled = stack.bet(bet.id)
    assert settled.state is BetState.SETTLED and str(settled.payout) == "25.0000"
    # The first check still wakes up, finds nothing to do and asks no one.
    wait_until(lambda: stack.row(bet.id).duplicate_deliveries >= 1, 30,
               lambda: "the scheduled check never ran")
    time.sleep(0.5)
    assert stack.truth()["bets"][bet.bet_ref]["queries"] == 0
    assert "check_started" not in stack.kinds(bet.id)


def test_reporting_the_same_result_again_changes_nothing(stack: Stack) -> None:
    bet = stack.place("patient", fate="returned", payout="5.00")
    report_result(stack.context, "patient", bet.bet_ref, payout="5.00", currency="EUR")
    events_before = stack.kinds(bet.id)

    again = report_result(stack.context, "patient", bet.bet_ref, payout="5.00", currency="EUR")

    assert again is ResultOutcome.ALREADY_SETTLED
    assert stack.kinds(bet.id) == events_before
