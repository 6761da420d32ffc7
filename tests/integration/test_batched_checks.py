"""Batched checks for providers that answer many bets in one call: every bet keeps the
single check's guarantees (claimed by attempt, decided and escalated the same way,
its whole story in its history), for one provider request per batch."""

from __future__ import annotations

import dataclasses
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from betguard.models.domain.snapshot import BetSnapshot
from betguard.models.domain.states import BetState
from betguard.providers.base import BetStatus, CancelOutcome, Provider
from betguard.services.batch_checks import run_batch_check
from betguard.services.intake import place_bets
from betguard.services.results import report_result
from tests.integration.batch_runs import asked, place, recorded
from tests.integration.harness import Stack, bet_payload, wait_until

pytestmark = pytest.mark.integration


def test_one_status_request_decides_a_whole_batch_each_bet_as_a_single_check_would(
    stack: Stack,
) -> None:
    bets = place(stack, ["returned", "unknown", "never", "never"])
    ctx, wakeups = recorded(stack)
    assert ctx.providers["sleepy_batcher"].cancel(bets[3].bet_ref).accepted  # its own cancel

    outcomes = run_batch_check(ctx, "sleepy_batcher", [(b.id, 1) for b in bets])

    assert outcomes == {"settled": 1, "refund": 1, "rescheduled": 2}
    assert asked(stack, bets) == [(1, 1)] * 4, "each bet asked once, in the batch"
    settled, unknown, pending, cancelled = (stack.bet(b.id) for b in bets)
    assert settled.state is BetState.SETTLED
    assert unknown.state is BetState.PENDING and unknown.check_attempt == 2, \
        "a bet the provider does not know yet waits for its deadline"
    assert pending.state is BetState.PENDING and pending.check_attempt == 2
    assert cancelled.state is BetState.REFUND_PENDING, "the provider's own cancel is proof"
    assert stack.kinds(bets[0].id) == ["bet_placed", "check_started", "provider_answered",
                                       "bet_settled"]
    for bet in bets[1:3]:
        assert stack.kinds(bet.id)[-2:] == ["provider_answered", "check_rescheduled"]
    assert wakeups.refunds == [bets[3].id]
    assert sorted((p, c) for p, checks, _ in wakeups.batches for c in checks) == [
        ("sleepy_batcher", (bets[1].id, 2)), ("sleepy_batcher", (bets[2].id, 2))]


def test_a_batch_delivered_again_does_nothing_and_counts_the_duplicates(stack: Stack) -> None:
    bets = place(stack, ["never", "never"])
    ctx, _ = recorded(stack)
    run_batch_check(ctx, "sleepy_batcher", [(b.id, 1) for b in bets])
    queries = {b.bet_ref: stack.truth()["bets"][b.bet_ref]["queries"] for b in bets}

    outcomes = run_batch_check(ctx, "sleepy_batcher", [(b.id, 1) for b in bets])

    assert outcomes == {"stale": 2}
    assert all(stack.row(b.id).duplicate_deliveries == 1 for b in bets)
    assert {b.bet_ref: stack.truth()["bets"][b.bet_ref]["queries"] for b in bets} == queries
    assert all(stack.kinds(b.id).count("check_started") == 1 for b in bets)


class Outage:
    """A provider that is down: every call fails as an unreachable provider would."""

    def __init__(self, inner: Provider) -> None:
        self.inner, self.name, self.supports_batch = inner, inner.name, True
        self.capabilities, self.feeds = inner.capabilities, inner.feeds

    def get_status(self, bet_ref: str, player_id: str = "") -> BetStatus:
        raise AssertionError("a batched check asks in one call")

    def get_statuses(self, bet_refs: list[str]) -> dict[str, BetStatus]:
        from betguard.providers.errors import ProviderUnavailable

        raise ProviderUnavailable("provider down")

    def cancel(self, bet_ref: str, player_id: str = "") -> CancelOutcome:
        return self.inner.cancel(bet_ref, player_id)


def test_a_failed_batch_request_is_every_bets_provider_error_and_they_are_checked_again(
    stack: Stack,
) -> None:
    bets = place(stack, ["returned", "never"])
    ctx, wakeups = recorded(stack)
    down = {**ctx.providers, "sleepy_batcher": Outage(ctx.providers["sleepy_batcher"])}

    outcomes = run_batch_check(dataclasses.replace(ctx, providers=down), "sleepy_batcher",
                               [(b.id, 1) for b in bets])

    assert outcomes == {"rescheduled": 2}
    for bet in bets:
        assert stack.bet(bet.id).state is BetState.PENDING
        assert stack.kinds(bet.id)[-2:] == ["provider_error", "check_rescheduled"]
    assert sorted(c for _, checks, _ in wakeups.batches for c in checks) == \
        sorted((b.id, 2) for b in bets)


class ReportsFirst:
    """The game server reports one bet's result while the batch request is in flight."""

    def __init__(self, inner: Provider, stack: Stack, bet: BetSnapshot, payout: str) -> None:
        self.inner, self.name, self.supports_batch = inner, inner.name, True
        self.capabilities, self.feeds = inner.capabilities, inner.feeds
        self.stack, self.bet, self.payout = stack, bet, payout

    def get_status(self, bet_ref: str, player_id: str = "") -> BetStatus:
        return self.inner.get_status(bet_ref, player_id)

    def get_statuses(self, bet_refs: list[str]) -> dict[str, Any]:
        answers = self.inner.get_statuses(bet_refs)
        report_result(self.stack.context, self.bet.provider, self.bet.bet_ref,
                      payout=self.payout, currency="EUR")
        return answers

    def cancel(self, bet_ref: str, player_id: str = "") -> CancelOutcome:
        return self.inner.cancel(bet_ref, player_id)


def test_a_bet_decided_meanwhile_keeps_its_decision_and_the_rest_of_the_batch_applies(
    stack: Stack,
) -> None:
    bets = place(stack, ["returned", "returned"])
    payout = stack.truth()["bets"][bets[0].bet_ref]["payout"]
    ctx, _ = recorded(stack)
    meddling = ReportsFirst(ctx.providers["sleepy_batcher"], stack, bets[0], payout)

    outcomes = run_batch_check(
        dataclasses.replace(ctx, providers={**ctx.providers, "sleepy_batcher": meddling}),
        "sleepy_batcher", [(b.id, 1) for b in bets])

    assert outcomes == {"superseded": 1, "settled": 1}
    first = stack.kinds(bets[0].id)
    assert first.count("bet_settled") == 1 and first[-1] == "late_answer_ignored"
    assert stack.bet(bets[1].id).state is BetState.SETTLED


def test_rescheduled_bets_one_decided_meanwhile_apply_all_but_that_one(stack: Stack) -> None:
    bets = place(stack, ["never", "never", "never"])
    ctx, wakeups = recorded(stack)
    meddling = ReportsFirst(ctx.providers["sleepy_batcher"], stack, bets[1], "5.00")

    outcomes = run_batch_check(
        dataclasses.replace(ctx, providers={**ctx.providers, "sleepy_batcher": meddling}),
        "sleepy_batcher", [(b.id, 1) for b in bets])

    assert outcomes == {"superseded": 1, "rescheduled": 2}
    assert stack.bet(bets[1].id).state is BetState.SETTLED
    assert stack.kinds(bets[1].id)[-2:] == ["provider_answered", "late_answer_ignored"], \
        "what it found is kept, and its answer is not acted upon"
    for bet in (bets[0], bets[2]):
        assert stack.bet(bet.id).state is BetState.PENDING
        assert stack.kinds(bet.id)[-2:] == ["provider_answered", "check_rescheduled"]
    assert sorted(c for _, checks, _ in wakeups.batches for c in checks) == \
        [(bets[0].id, 2), (bets[2].id, 2)]


def test_a_batch_provider_runs_its_bets_through_batched_checks_to_their_end(
    stack: Stack,
) -> None:
    bets = place(stack, ["returned", "delayed", "unknown", "never", "returned"],
                 provider="batcher")

    for bet in bets:
        stack.wait_for_state(bet.id, BetState.SETTLED, BetState.REFUNDED)
    for (queries, batched), bet in zip(asked(stack, bets), bets, strict=True):
        assert batched == queries >= 1, "every question about a batcher's bet is batched"
        assert queries <= stack.bet(bet.id).check_attempt - 1
    wait_until(lambda: all("provider_answered" in stack.kinds(b.id) for b in bets), 10)


HELD_SECONDS = 1.5  # each answer held this long: five cancels one after the other outlive
HELD_BETS = 5       # the stack's 6 s lease; asked together they take about one hold


def place_overdue_with_held_answers(stack: Stack) -> list[BetSnapshot]:
    """Bets of ``slow_batcher`` placed an hour ago, so their first check is the deadline's,
    all due at once (one batch); the provider holds two answers about each: the batched
    status request takes one of them, each bet's cancel the other."""
    run = secrets.token_hex(4)
    refs = [f"held-{run}-{n}" for n in range(HELD_BETS)]
    for ref in refs:
        stack.sim("POST", "/_sim/bets", {"bet_ref": ref, "stake": "10.00", "currency": "EUR",
                                         "fate": "never"})
        stack.sim("POST", "/_sim/faults", {"bet_ref": ref, "fault": "timeout", "times": 2})
    placed_at = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    results = place_bets(stack.context, [{**bet_payload("slow_batcher", ref),
                                          "placed_at": placed_at} for ref in refs])
    return [r.bet for r in results if r.bet is not None]


def test_a_batch_of_deadline_cancels_each_held_by_the_provider_concludes_within_its_lease(
    stack: Stack,
) -> None:
    lease = stack.context.timing.check_lease
    assert lease + 1 < HELD_SECONDS * (HELD_BETS + 1), "one after the other would outlive it"
    knobs = stack.sim("GET", "/_sim/knobs")
    stack.sim("POST", "/_sim/knobs", {"timeout_seconds": HELD_SECONDS})
    try:
        bets = place_overdue_with_held_answers(stack)
        refunded = [stack.wait_for_state(b.id, BetState.REFUNDED) for b in bets]
    finally:
        stack.sim("POST", "/_sim/knobs", {"timeout_seconds": knobs["timeout_seconds"]})

    truth = stack.truth()
    assert len(refunded) == HELD_BETS
    for bet in refunded:
        kinds = stack.kinds(bet.id)
        assert "check_dispatched_by_sweep" not in kinds, "the batch outlived its lease"
        assert kinds.count("check_started") == 1 and kinds.count("cancel_answered") == 1, kinds
        started = next(e for e in stack.history(bet.id) if e.kind == "check_started")
        assert started.detail["batch"] == HELD_BETS, "all in one batch"
        fact = truth["bets"][bet.bet_ref]
        assert (fact["cancelled"], fact["cancels"], fact["queries"]) == (True, 1, 1)
    assert sum(r["bet_ref"] in {b.bet_ref for b in bets} for r in truth["refunds"].values()) \
        == HELD_BETS
