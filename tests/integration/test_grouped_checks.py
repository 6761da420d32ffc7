"""Checks of a provider without batched status, due together, run as one group: one
claim, each bet asked in its own call with the calls side by side, one transaction for
the decisions and events, one wake-up for the next checks. Every bet keeps the single
check's guarantees: claimed by attempt, decided and escalated the same way, its whole
story in its history, one provider query per check."""

from __future__ import annotations

import time

import pytest

from betguard.models.domain.states import BetState
from betguard.services.batch_checks import GROUP_CALLS_AT_ONCE, run_batch_check
from tests.integration.batch_runs import asked, place, recorded
from tests.integration.harness import Stack, wait_until

pytestmark = pytest.mark.integration

HOLD_SECONDS = 0.6  # each answer held this long; below the provider's read timeout (1 s)


def test_a_group_asks_each_bet_once_and_decides_each_as_a_single_check_would(
    stack: Stack,
) -> None:
    bets = place(stack, ["returned", "unknown", "never", "never"], provider="sleepy")
    ctx, wakeups = recorded(stack)
    assert ctx.providers["sleepy"].cancel(bets[3].bet_ref).accepted  # its own cancel

    outcomes = run_batch_check(ctx, "sleepy", [(b.id, 1) for b in bets])

    assert outcomes == {"settled": 1, "refund": 1, "rescheduled": 2}
    assert asked(stack, bets) == [(1, 0)] * 4, "each bet asked once, on its own"
    settled, unknown, pending, cancelled = (stack.bet(b.id) for b in bets)
    assert settled.state is BetState.SETTLED
    assert unknown.state is BetState.PENDING and unknown.check_attempt == 2
    assert pending.state is BetState.PENDING and pending.check_attempt == 2
    assert cancelled.state is BetState.REFUND_PENDING, "the provider's own cancel is proof"
    assert stack.kinds(bets[0].id) == ["bet_placed", "check_started", "provider_answered",
                                       "bet_settled"]
    started = next(e for e in stack.history(bets[0].id) if e.kind == "check_started")
    assert started.detail == {"attempt": 1, "group": 4}
    for bet in bets[1:3]:
        assert stack.kinds(bet.id)[-2:] == ["provider_answered", "check_rescheduled"]
    assert wakeups.refunds == [bets[3].id]
    # Each next check woken once: together when due within a second of each other (the
    # backoff's jitter decides), else each on its own.
    woken = [c for _, checks, _ in wakeups.batches for c in checks]
    assert sorted([*woken, *((bet_id, 2) for bet_id in wakeups.checks)]) == [
        (bets[1].id, 2), (bets[2].id, 2)]


def test_the_calls_of_a_group_are_in_flight_at_the_same_time(stack: Stack) -> None:
    bets = place(stack, ["never"] * GROUP_CALLS_AT_ONCE, provider="sleepy")
    knobs = stack.sim("GET", "/_sim/knobs")
    for bet in bets:
        stack.sim("POST", "/_sim/faults", {"bet_ref": bet.bet_ref, "fault": "timeout",
                                           "times": 1})
    stack.sim("POST", "/_sim/knobs", {"timeout_seconds": HOLD_SECONDS})
    since = time.time() - 1
    ctx, _ = recorded(stack)
    try:
        outcomes = run_batch_check(ctx, "sleepy", [(b.id, 1) for b in bets])
    finally:
        stack.sim("POST", "/_sim/knobs", {"timeout_seconds": knobs["timeout_seconds"]})

    assert outcomes == {"rescheduled": GROUP_CALLS_AT_ONCE}
    refs = {b.bet_ref for b in bets}
    arrivals = sorted(entry["t"] for entry in stack.sim("GET", f"/_sim/log?since={since}")[
        "requests"] if entry["path"].rsplit("/", 1)[-1] in refs)
    assert len(arrivals) == GROUP_CALLS_AT_ONCE
    assert arrivals[-1] - arrivals[0] < HOLD_SECONDS, \
        "every call arrived before the first one could have been answered"
    assert all(stack.kinds(b.id)[-2:] == ["provider_answered", "check_rescheduled"]
               for b in bets)


def test_a_group_delivered_again_does_nothing_and_counts_the_duplicates(stack: Stack) -> None:
    bets = place(stack, ["never", "never", "never"], provider="sleepy")
    ctx, _ = recorded(stack)
    run_batch_check(ctx, "sleepy", [(b.id, 1) for b in bets])
    queries = {b.bet_ref: stack.truth()["bets"][b.bet_ref]["queries"] for b in bets}

    outcomes = run_batch_check(ctx, "sleepy", [(b.id, 1) for b in bets])

    assert outcomes == {"stale": 3}
    assert all(stack.row(b.id).duplicate_deliveries == 1 for b in bets)
    assert {b.bet_ref: stack.truth()["bets"][b.bet_ref]["queries"] for b in bets} == queries


def test_bets_placed_together_are_checked_in_groups_by_the_workers_to_their_end(
    stack: Stack,
) -> None:
    bets = place(stack, ["returned", "delayed", "never", "returned", "unknown"],
                 provider="refunder")

    for bet in bets:
        stack.wait_for_state(bet.id, BetState.SETTLED, BetState.REFUNDED)
    wait_until(lambda: all("provider_answered" in stack.kinds(b.id) for b in bets), 10)
    started = [e.detail for b in bets for e in stack.history(b.id) if e.kind == "check_started"]
    assert any(detail.get("group", 0) > 1 for detail in started), started
    truth = stack.truth()["bets"]
    assert all(truth[b.bet_ref]["queries"] <= stack.bet(b.id).check_attempt - 1 for b in bets)
