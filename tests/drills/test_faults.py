"""Faults injected into the running system: duplicated messages, Redis losing
everything, a worker killed mid-check, tampered and malformed provider answers."""

from __future__ import annotations

import time

import pytest

from betguard.config.celery import CHECK_TASK
from betguard.models.domain.snapshot import BetSnapshot
from betguard.models.domain.states import BetState
from betguard.services.results import report_result
from betguard.tasks.app import app
from tests.integration.harness import Stack, wait_until

pytestmark = pytest.mark.integration

FINAL_OR_REVIEW = (BetState.SETTLED, BetState.REFUNDED, BetState.IN_REVIEW)


def test_a_check_delivered_five_times_queries_the_provider_once_and_forks_no_chain(
    stack: Stack,
) -> None:
    bet = stack.place("sleepy", fate="never")

    for _ in range(5):
        app.send_task(CHECK_TASK, kwargs={"bet_id": bet.id, "attempt": 1, "ref": bet.label})
    wait_until(lambda: stack.row(bet.id).duplicate_deliveries == 4
               and "check_rescheduled" in stack.kinds(bet.id), 30,
               lambda: f"duplicates counted: {stack.row(bet.id).duplicate_deliveries}")

    assert stack.truth()["bets"][bet.bet_ref]["queries"] == 1
    kinds = stack.kinds(bet.id)
    assert kinds.count("check_started") == 1
    assert kinds.count("check_rescheduled") == 1
    assert stack.bet(bet.id).check_attempt == 2
    settle_quietly(stack, bet)


def test_a_stale_check_for_an_old_attempt_does_nothing(stack: Stack) -> None:
    bet = stack.place("sleepy", fate="never")
    app.send_task(CHECK_TASK, kwargs={"bet_id": bet.id, "attempt": 1, "ref": bet.label})
    wait_until(lambda: stack.bet(bet.id).check_attempt == 2, 30)

    app.send_task(CHECK_TASK, kwargs={"bet_id": bet.id, "attempt": 1, "ref": bet.label})
    wait_until(lambda: stack.row(bet.id).duplicate_deliveries == 1, 30)

    assert stack.truth()["bets"][bet.bet_ref]["queries"] == 1
    assert stack.kinds(bet.id).count("check_started") == 1
    settle_quietly(stack, bet)


def settle_quietly(stack: Stack, bet: BetSnapshot) -> None:
    """Leave no pending bet behind for tests that read the oldest pending one."""
    report_result(stack.context, bet.provider, bet.bet_ref, payout="0.00", currency="EUR")


def test_every_pending_bet_is_resolved_by_the_sweeps_after_redis_loses_all_data(
    stack: Stack,
) -> None:
    bets = [stack.place("refunder", fate="never") for _ in range(4)]
    bets += [stack.place("patient", fate="delayed", delay=2.0, payout="3.00") for _ in range(4)]
    wait_until(lambda: all("check_started" in stack.kinds(b.id) for b in bets), 30)

    stack.stop_workers()  # a warm stop hands unacknowledged messages back to Redis...
    stack.redis.restart(wipe=True)  # ...which then loses them, and everything else
    stack.start_workers()

    for bet in bets:
        final = stack.wait_for_state(bet.id, *FINAL_OR_REVIEW, timeout=60)
        assert final.state in (BetState.REFUNDED, BetState.SETTLED)
    assert any("check_dispatched_by_sweep" in stack.kinds(b.id) for b in bets)


def test_a_worker_killed_in_the_middle_of_a_check_still_gets_its_bet_decided(
    stack: Stack,
) -> None:
    bet = stack.place("slow", fate="never")
    stack.sim("POST", "/_sim/faults", {"bet_ref": bet.bet_ref, "fault": "timeout", "times": 1})
    wait_until(lambda: "check_started" in stack.kinds(bet.id), 30)
    time.sleep(0.3)  # the provider call is now in flight

    provider_worker = stack.workers[0]
    provider_worker.kill()
    assert not provider_worker.alive()
    stack.stop_workers()
    stack.start_workers()

    final = stack.wait_for_state(bet.id, *FINAL_OR_REVIEW, timeout=60)
    assert final.state is BetState.REFUNDED
    kinds = stack.kinds(bet.id)
    first_answer = kinds.index("check_started") + 1
    assert kinds[first_answer] != "provider_answered"  # the killed check never finished
    assert "check_dispatched_by_sweep" in kinds


@pytest.mark.parametrize(
    ("fault", "named"),
    [
        ("bad_signature", "signature"),
        ("not_json", "JSON"),
        ("wrong_types", ""),
        ("missing_fields", "status"),
        ("other_ref", "bet_ref"),
        ("error_503", "503"),
    ],
)
def test_a_tampered_or_malformed_answer_is_recorded_as_a_provider_error_and_retried(
    stack: Stack, fault: str, named: str
) -> None:
    bet = stack.place("patient", fate="delayed", delay=0.5, payout="7.00")
    stack.sim("POST", "/_sim/faults", {"bet_ref": bet.bet_ref, "fault": fault, "times": 2})

    settled = stack.wait_for_state(bet.id, BetState.SETTLED, timeout=30)

    assert str(settled.payout) == "7.0000"
    errors = [e for e in stack.history(bet.id) if e.kind == "provider_error"]
    assert errors, stack.kinds(bet.id)
    assert errors[0].detail["error"] in ("ProviderInvalidResponse", "ProviderUnavailable")
    assert named.lower() in errors[0].detail["message"].lower()
    assert all(worker.alive() for worker in stack.workers)
