"""A check that crashes (here: its provider was removed from the workers' policy
file) is no dead end: it is recorded, tried again a few times, then sent to a
person with the reason in its history; and the sweeps keep serving every other
provider meanwhile. On the running stack, with real workers."""

from __future__ import annotations

import dataclasses
import secrets

import pytest
from sqlalchemy import select

from betguard.models.domain.states import BetState
from betguard.models.store.tables import SweepStat
from betguard.services.crashes import MAX_CRASHES
from betguard.services.intake import place_bet
from tests.integration.harness import Stack, bet_payload

pytestmark = pytest.mark.integration

RETIRED = "retired"  # in no policy the workers read


def test_a_bet_of_a_provider_removed_from_the_policies_ends_in_review_after_a_few_crashes(
    stack: Stack,
) -> None:
    # Placed while the provider was configured (this side only): the workers, whose
    # policy file no longer names it, cannot check it.
    then = dataclasses.replace(
        stack.context, policies={**stack.context.policies, RETIRED: stack.context.policy(
            "refunder")})
    orphan = place_bet(then, bet_payload(RETIRED, f"orphan-{secrets.token_hex(6)}")).bet
    healthy = stack.place("patient", fate="delayed", delay=2.0)
    runs = sweep_runs(stack)

    in_review = stack.wait_for_state(orphan.id, BetState.IN_REVIEW, timeout=90)

    crashes = [e for e in stack.history(orphan.id) if e.kind == "check_crashed"]
    assert len(crashes) == MAX_CRASHES
    assert {e.detail["error"] for e in crashes} == {"KeyError"}
    assert all(RETIRED in e.detail["message"] for e in crashes)
    assert [e.detail["crashes_in_a_row"] for e in crashes] == list(range(1, MAX_CRASHES + 1))
    [review] = stack.reviews(orphan.id)
    assert review.reason == "check_failing"
    assert f"crashed {MAX_CRASHES} times in a row" in review.detail["why"]
    assert in_review.next_check_at is None
    assert stack.wait_for_state(healthy.id, BetState.SETTLED).payout is not None
    assert sweep_runs(stack) > runs  # the sweeps kept running (beat: every second)


def sweep_runs(stack: Stack) -> int:
    with stack.context.db.unit_of_work() as session:
        return int(session.scalar(select(SweepStat.runs).where(SweepStat.kind == "checks"))
                   or 0)

