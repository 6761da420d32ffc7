"""A provider's own outcome reaching a bet betguard was about to give, or gave, a person.

The interleaving that paid a stake twice, step by step on the real PostgreSQL, the PG-like
simulator and the wallet: the workers are stopped, so each check, pull and refund below
runs here, in this order, and nothing else touches the bets.

- a deadline decision is never taken on a copy of the feed older than the moment it must
  cover: while the feed's pull is stuck the check waits, and once the feed shows the
  provider's own resolution of the round the bet is settled with it, never refunded;
- the provider's resolution of a bet already in review closes the review with its
  result, and the operator's refund that would pay the stake back on top is refused;
- the provider's rollback reported by the game server closes a deadline review too;
- a fact that cannot close its review is attached to it, and a resolution that would
  move money against it is refused naming it; reconciliation opens no second review.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, event, update

from betguard.models.domain.errors import IllegalTransition
from betguard.models.domain.events import EventKind, Resolution, ReviewReason
from betguard.models.domain.snapshot import BetSnapshot
from betguard.models.domain.states import BetState
from betguard.models.store.tables import FeedCursor, ProviderRow
from betguard.services.cancels import CancelOutcome, report_cancel
from betguard.services.checks import CheckOutcome, run_check
from betguard.services.feeds import pull_feed
from betguard.services.intake import place_bet
from betguard.services.reconcile import reconcile
from betguard.services.refunds import RefundOutcome, run_refund
from betguard.services.results import ResultOutcome, report_result
from betguard.services.reviews import Resolve, resolve_review
from tests.integration.harness import Stack, bet_payload, pg_round_id, wait_until

FEED = "history"
SELF_RESOLVE_AFTER = 4.0


@pytest.fixture
def by_hand(stack: Stack) -> Iterator[None]:
    """No worker runs: the test runs each check, pull and refund itself. The PG-like
    simulator resolves bets pending SELF_RESOLVE_AFTER seconds itself: it completes the
    round (with what the book drew, 0 here)."""
    stack.stop_workers()
    try:
        with stack.pgsoft_sim.knobs(self_resolve_after=SELF_RESOLVE_AFTER):
            yield
    finally:
        stuck_pull(stack, "pgsoft_reviewer", for_seconds=-1)  # a test's stuck pull ends
        stack.start_workers()


def placed(stack: Stack, provider: str, *, currency: str = "EUR", **sim: Any) -> BetSnapshot:
    ref = pg_round_id()
    stack.pgsoft_sim.call("POST", "/_sim/bets",
                          {"bet_ref": ref, "stake": "10.00", "currency": currency, **sim},
                          expect=201)
    return place_bet(stack.context, bet_payload(provider, ref)).bet


def pull(stack: Stack, provider: str) -> None:
    """One pull of the provider's feed, now (its interval waited out first)."""
    def pulled() -> bool:
        report = pull_feed(stack.context, provider, FEED)
        assert report.error is None, report.error
        return report.called
    wait_until(pulled, timeout=10)


def stuck_pull(stack: Stack, provider: str, *, for_seconds: float) -> None:
    """A pull claimed the feed and never finished: its lease holds the feed."""
    until = stack.context.clock() + timedelta(seconds=for_seconds)
    with stack.context.db.transaction() as connection:
        connection.execute(update(FeedCursor)
                           .where(FeedCursor.provider == provider, FeedCursor.feed == FEED)
                           .values(lease_until=until))


def check(stack: Stack, bet_id: int) -> CheckOutcome:
    return run_check(stack.context, bet_id, stack.bet(bet_id).check_attempt)


def refund(stack: Stack, bet_id: int) -> RefundOutcome:
    return run_refund(stack.context, bet_id, stack.bet(bet_id).check_attempt)


def until_resolved_at_the_provider(stack: Stack, bet: BetSnapshot) -> None:
    """The provider resolves the bet itself: it completes the round, paying nothing."""
    wait_until(lambda: stack.pgsoft_sim.call("GET", "/_sim/truth")["bets"][bet.bet_ref]["settled"],
               timeout=15)


def resolve(stack: Stack, bet: BetSnapshot, resolution: Resolution,
            payout: str | None = None) -> BetSnapshot:
    return resolve_review(stack.context, Resolve(
        provider=bet.provider, bet_ref=bet.bet_ref, resolution=resolution, operator="ops-1",
        note="decided by hand", payout=payout))


def in_deadline_review(stack: Stack) -> BetSnapshot:
    """A bet the provider never settles, past its deadline on a fresh copy of the feed:
    its check sends it to a person."""
    bet = placed(stack, "pgsoft_reviewer", fate="never")
    time.sleep(max(0.0, (bet.deadline - stack.context.clock()).total_seconds()))
    pull(stack, "pgsoft_reviewer")
    assert check(stack, bet.id) is CheckOutcome.REVIEW
    return bet


def test_a_deadline_decision_waits_for_a_stuck_feed_and_then_takes_the_provider_s_result(
        stack: Stack, by_hand: None) -> None:
    bet = placed(stack, "pgsoft_reviewer", fate="never")
    pull(stack, "pgsoft_reviewer")  # the copy, fresh now: the bet is pending there
    stuck_pull(stack, "pgsoft_reviewer", for_seconds=60)
    until_resolved_at_the_provider(stack, bet)  # past the deadline, completed there
    assert stack.context.clock() > bet.deadline

    assert check(stack, bet.id) is CheckOutcome.RESCHEDULED
    assert stack.reviews(bet.id) == [], "decided on a copy older than the deadline"
    [waited] = [d for d in stack.details(bet.id, EventKind.CHECK_RESCHEDULED)
                if "waiting for the feed" in d["why"]]
    assert stack.bet(bet.id).next_check_at is not None

    stuck_pull(stack, "pgsoft_reviewer", for_seconds=-1)  # its lease runs out
    pull(stack, "pgsoft_reviewer")
    assert check(stack, bet.id) is CheckOutcome.SETTLED
    settled = stack.bet(bet.id)
    assert settled.state is BetState.SETTLED and settled.payout == 0
    assert stack.wallet_refunds(bet.bet_ref) == []
    assert stack.reviews(bet.id) == []


@contextmanager
def pulled_right_after_the_rows_are_read(stack: Stack, provider: str) -> Iterator[list[bool]]:
    """The feed's next pull stores its page, on another connection, right after the
    first read of a bet's rows from the mirror inside this block."""
    pulled: list[bool] = []

    def in_between(conn: Any, cursor: Any, statement: str, params: Any, context: Any,
                   executemany: bool) -> None:
        if pulled or "FROM provider_rows" not in statement or "bet_ref" not in statement:
            return
        pulled.append(True)
        pull(stack, provider)

    engine = stack.context.db.engine
    event.listen(engine, "after_cursor_execute", in_between, named=False)
    try:
        yield pulled
    finally:
        event.remove(engine, "after_cursor_execute", in_between)


def test_a_copy_that_catches_up_while_a_check_reads_it_does_not_cover_the_old_row(
        stack: Stack, by_hand: None) -> None:
    bet = placed(stack, "pgsoft_reviewer", fate="never")
    pull(stack, "pgsoft_reviewer")  # pending there, the copy whole up to now
    until_resolved_at_the_provider(stack, bet)  # past the deadline: completed there

    with pulled_right_after_the_rows_are_read(stack, "pgsoft_reviewer") as pulled:
        outcome = check(stack, bet.id)  # reads "pending"; then the last hand is stored

    assert pulled, "the check never read the mirror"
    assert outcome is CheckOutcome.RESCHEDULED, "an old row taken for a covered one"
    assert stack.reviews(bet.id) == []
    assert check(stack, bet.id) is CheckOutcome.SETTLED


def test_the_provider_s_resolution_of_a_bet_in_review_closes_it_with_its_result(
        stack: Stack, by_hand: None) -> None:
    bet = in_deadline_review(stack)
    [review] = stack.reviews(bet.id)
    assert review.reason == ReviewReason.DEADLINE.value

    until_resolved_at_the_provider(stack, bet)
    pull(stack, "pgsoft_reviewer")  # the feed shows the last hand: the review takes it
    [closed] = stack.reviews(bet.id)
    assert closed.resolved_at is not None and closed.resolution == Resolution.SETTLED.value
    assert closed.operator == "provider:pgsoft_reviewer"
    assert stack.bet(bet.id).state is BetState.SETTLED
    with pytest.raises(IllegalTransition, match="no open review"):
        resolve(stack, bet, Resolution.REFUNDED)  # the stake back on top of the result
    assert stack.wallet_refunds(bet.bet_ref) == []


def test_a_late_result_closes_a_review_that_waited_for_it(stack: Stack,
                                                          by_hand: None) -> None:
    bet = in_deadline_review(stack)

    outcome = report_result(stack.context, "pgsoft_reviewer", bet.bet_ref, payout="12.50",
                            currency="EUR")
    assert outcome is ResultOutcome.SETTLED
    settled = stack.bet(bet.id)
    assert settled.state is BetState.SETTLED and str(settled.payout) == "12.5000"
    [closed] = stack.reviews(bet.id)
    assert closed.resolution == Resolution.SETTLED.value and closed.operator == "game-server"


def test_a_fact_that_cannot_close_the_review_is_attached_and_refuses_a_second_payment(
        stack: Stack, by_hand: None) -> None:
    # The provider pays the round in USD; the bet was placed in EUR: a person decides.
    bet = placed(stack, "pgsoft_reviewer", currency="USD", fate="returned", payout="30.00")
    pull(stack, "pgsoft_reviewer")
    assert check(stack, bet.id) is CheckOutcome.REVIEW
    [review] = stack.reviews(bet.id)
    assert review.reason == ReviewReason.AMBIGUOUS.value

    outcome = report_result(stack.context, "pgsoft_reviewer", bet.bet_ref, payout="30.00",
                            currency="USD")
    assert outcome is ResultOutcome.NOTED_FOR_REVIEW
    [attached] = stack.details(bet.id, EventKind.REVIEW_FACT_ATTACHED)
    assert attached["source"] == "game-server" and attached["status"] == "settled"

    with pytest.raises(IllegalTransition, match="says the bet is settled with payout 30"):
        resolve(stack, bet, Resolution.REFUNDED)
    assert stack.bet(bet.id).state is BetState.IN_REVIEW

    time.sleep(1.5)  # past the feed's lag: the reconciliation's horizon includes the bet
    window = (bet.placed_at - timedelta(minutes=1), stack.context.clock())
    report = reconcile(stack.context, "pgsoft_reviewer", *window)
    assert [f.kind for f in report.differences if f.bet_ref == bet.bet_ref] == ["state_differs"]
    assert len(stack.reviews(bet.id)) == 1, "reconciliation opened a second review"
    assert stack.wallet_refunds(bet.bet_ref) == []


def test_the_provider_s_rollback_reported_by_the_game_server_closes_a_deadline_review(
        stack: Stack, by_hand: None) -> None:
    bet = in_deadline_review(stack)
    stack.sim("POST", "/_sim/rollback", {"provider": bet.provider, "bet_ref": bet.bet_ref,
                                         "amount": "10.00", "currency": bet.currency})

    assert report_cancel(stack.context, bet.provider, bet.bet_ref) is CancelOutcome.REFUNDING
    [closed] = stack.reviews(bet.id)
    assert closed.resolution == Resolution.REFUNDED.value and closed.operator == "game-server"
    assert refund(stack, bet.id) is RefundOutcome.REFUNDED
    [refunded] = stack.details(bet.id, EventKind.BET_REFUNDED)
    assert refunded["paid_by"] == "provider"
    assert len(stack.wallet_refunds(bet.bet_ref)) == 1


def test_a_bet_the_provider_s_history_lacked_is_closed_by_the_provider_s_own_cancel(
        stack: Stack, by_hand: None) -> None:
    # Reconciliation found the bet missing from the provider's history while it was
    # pending; then its deadline sent it to a person too: two reviews, both waiting only
    # for the provider's word. The provider does not resolve the round itself here: with
    # by_hand's 4 s, a loaded machine's pulls and checks reached its completed row first
    # (the bet then settled, rightly, and the reviews this test is about never opened).
    stack.pgsoft_sim.call("POST", "/_sim/knobs", {"self_resolve_after": 0.0})  # by_hand resets
    bet = placed(stack, "pgsoft_reviewer", fate="never")
    time.sleep(2.5)  # a pull this much later has a horizon (less the lag) past the bet
    pull(stack, "pgsoft_reviewer")
    with stack.context.db.transaction() as connection:  # the record, lost from the copy
        connection.execute(delete(ProviderRow).where(ProviderRow.provider == bet.provider,
                                                     ProviderRow.bet_ref == bet.bet_ref))
    report = reconcile(stack.context, bet.provider, bet.placed_at - timedelta(minutes=1),
                       stack.context.clock(), pull=False)
    assert [f.kind for f in report.differences if f.bet_ref == bet.bet_ref] == [
        "missing_there"]
    time.sleep(max(0.0, (bet.deadline - stack.context.clock()).total_seconds()))
    pull(stack, "pgsoft_reviewer")
    assert check(stack, bet.id) is CheckOutcome.REVIEW
    assert sorted(r.reason for r in stack.reviews(bet.id)) == [
        ReviewReason.DEADLINE.value, ReviewReason.RECONCILIATION.value]

    stack.sim("POST", "/_sim/rollback", {"provider": bet.provider, "bet_ref": bet.bet_ref,
                                         "amount": "10.00", "currency": bet.currency})
    assert report_cancel(stack.context, bet.provider, bet.bet_ref) is CancelOutcome.REFUNDING
    assert all(r.resolution == Resolution.REFUNDED.value for r in stack.reviews(bet.id))
    assert refund(stack, bet.id) is RefundOutcome.REFUNDED
    [refunded] = stack.details(bet.id, EventKind.BET_REFUNDED)
    assert refunded["paid_by"] == "provider"
    assert len(stack.wallet_refunds(bet.bet_ref)) == 1
