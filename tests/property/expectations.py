"""What one step should have done, told from the state before it: the outcome a
service must return, and checks of the observation taken right after the step."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from betguard.models.domain.events import Resolution
from betguard.providers.wallet import refund_idempotency_key
from betguard.services.results import ResultOutcome
from tests.property.observe import BetRow, Observation, ReviewRow

Expectation = Callable[[Observation], list[str]]

RESOLVED_TO = {Resolution.SETTLED: "settled", Resolution.REFUNDED: "refund_pending",
               Resolution.RECHECK: "pending"}


# Reviews that only waited for the provider's word: a final fact closes them.
WAITING = ("deadline", "check_failing")


def _fact(entry: dict[str, Any]) -> tuple[str, Decimal | None, str | None]:
    payout = entry.get("payout")
    return (entry["status"], None if payout is None else Decimal(payout), entry.get("currency"))


def facts_of(reviews: Sequence[ReviewRow]) -> list[tuple[str, Decimal | None, str | None]]:
    return [_fact(entry) for review in reviews for entry in review.facts]


def result_outcome(bet: BetRow, payout: Decimal, reviews: Sequence[ReviewRow] = (),
                   currency: str = "EUR") -> ResultOutcome:
    if bet.state == "pending":
        return ResultOutcome.SETTLED
    if bet.state == "settled" and bet.payout == payout:
        return ResultOutcome.ALREADY_SETTLED
    if bet.state == "in_review":
        reported = ("settled", payout, currency)
        closes = bool(reviews) and all(r.reason in WAITING for r in reviews) and all(
            fact == reported for fact in facts_of(reviews))
        return ResultOutcome.SETTLED if closes else ResultOutcome.NOTED_FOR_REVIEW
    return ResultOutcome.CONFLICT


def against_the_facts(resolution: Resolution, payout: Decimal | None,
                      reviews: Sequence[ReviewRow]) -> bool:
    """Whether the resolution would move money against a fact attached to the reviews."""
    for status, paid, _currency in facts_of(reviews):
        if status == "cancelled" and resolution is Resolution.SETTLED:
            return True
        if status == "settled" and (resolution is Resolution.REFUNDED or (
                resolution is Resolution.SETTLED and payout is not None and payout != paid)):
            return True
    return False


def respecting_the_facts(resolution: Resolution, payout: Decimal,
                         reviews: Sequence[ReviewRow]) -> tuple[Resolution, Decimal]:
    """The decision a careful operator takes instead of one the facts refuse: the
    provider's result, or the refund of a bet the provider cancelled."""
    for status, paid, _currency in facts_of(reviews):
        if status == "settled" and paid is not None and resolution is not Resolution.RECHECK:
            return Resolution.SETTLED, paid
        if status == "cancelled" and resolution is Resolution.SETTLED:
            return Resolution.REFUNDED, payout
    return resolution, payout


def resolution_allowed(bet: BetRow, resolution: Resolution, has_review: bool) -> bool:
    if not has_review:
        return False
    if resolution is Resolution.ACKNOWLEDGED:  # only a final bet: no dead end after it
        return bet.state in ("settled", "refunded")
    return bet.state == "in_review"


def fitting_resolution(bet: BetRow, wanted: Resolution) -> Resolution:
    """``wanted`` if the bet's state allows it, else the nearest decision that it allows
    (a refund under way allows none of these: acknowledging it is refused)."""
    if bet.state == "in_review":
        return Resolution.RECHECK if wanted is Resolution.ACKNOWLEDGED else wanted
    return Resolution.ACKNOWLEDGED


def state_after_resolution(bet: BetRow, resolution: Resolution) -> str:
    return RESOLVED_TO.get(resolution, bet.state)


def a_stale_delivery_changed_nothing(before: BetRow, seen: Observation) -> Expectation:
    """A duplicate or outdated check only counts itself: no claim, no query, no change."""
    queries, cancels = seen.queries(before), seen.cancels_of(before)

    def expectation(now: Observation) -> list[str]:
        after = now.bets[before.id]
        changed = (after.version, after.state, after.check_attempt) != (
            before.version, before.state, before.check_attempt)
        problems = [f"{before.label}: a stale delivery changed it to {after}"] if changed else []
        if after.duplicate_deliveries != before.duplicate_deliveries + 1:
            problems.append(f"{before.label}: the stale delivery was not counted")
        if (now.queries(after), now.cancels_of(after)) != (queries, cancels):
            problems.append(f"{before.label}: a stale delivery asked the provider")
        return problems

    return expectation


def a_stale_refund_paid_nothing(before: BetRow, seen: Observation) -> Expectation:
    key = refund_idempotency_key(before.provider, before.bet_ref)
    asked = seen.refunds.get(key, {}).get("requests", 0)

    def expectation(now: Observation) -> list[str]:
        if now.refunds.get(key, {}).get("requests", 0) != asked:
            return [f"{before.label}: a stale refund delivery called the wallet"]
        return []

    return expectation


def in_state(bet_id: int, state: str, why: str) -> Expectation:
    def expectation(now: Observation) -> list[str]:
        bet = now.bets[bet_id]
        return [] if bet.state == state else [f"{bet.label}: expected {state} after {why}"]

    return expectation


def reviews_open(bet_id: int, reason: str | None, why: str) -> Expectation:
    """``reason`` None: no review is open any more; else one with that reason is."""

    def expectation(now: Observation) -> list[str]:
        reasons = [r.reason for r in now.open_reviews(bet_id)]
        fine = not reasons if reason is None else reason in reasons
        return [] if fine else [f"bet {bet_id}: open reviews {reasons} after {why}"]

    return expectation


def sweep_took_what_was_due(seen: Observation, now: datetime, grace: float,
                            dispatched: set[tuple[str, int, int | None]]) -> list[str]:
    """The sweep sent exactly the work that was due and whose wake-up was late."""
    cutoff = now - timedelta(seconds=grace)
    due = {("check" if bet.state == "pending" else "refund", bet.id, bet.check_attempt)
           for bet in seen.bets.values()
           if bet.state in ("pending", "refund_pending")
           and bet.next_check_at is not None and bet.next_check_at <= cutoff}
    if due != dispatched:
        return [f"sweep sent {sorted(dispatched)}, due were {sorted(due)}"]
    return []
