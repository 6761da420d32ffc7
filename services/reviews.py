"""Ops decisions: resolve a review and order a re-check.

A bet in review is settled, refunded or re-checked; only a review of a final bet (a
conflict, a reconciliation difference) is acknowledged, closed without a decision. A
bet whose refund the wallet rejected stays ``refund_pending`` with its review open; an
operator retries the refund now (same key), records it as paid outside betguard, or
settles the bet if the provider has a result after all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from betguard.models.domain import transitions
from betguard.models.domain.access import NeedsApproval, amount_at_stake, needs_second_person
from betguard.models.domain.decisions import RefundFacts, change_for_resolution
from betguard.models.domain.errors import IllegalTransition
from betguard.models.domain.events import EventKind, Resolution
from betguard.models.domain.snapshot import BetSnapshot
from betguard.models.domain.states import BetState
from betguard.models.domain.transitions import Change, NewEvent
from betguard.models.store import proposals, repository
from betguard.models.store.db import Session
from betguard.models.store.tables import Review
from betguard.providers.wallet import refund_idempotency_key
from betguard.services.context import Context
from betguard.services.operator_text import require_text
from betguard.services.reconcile_store import close_differences_of_reviews
from betguard.services.refund_wakeups import refund_in_flight, wake_refund, wallet_refused
from betguard.services.results import parse_payout
from betguard.services.review_facts import facts_about, money_refusal

MOVES_MONEY = frozenset({Resolution.SETTLED, Resolution.REFUNDED, Resolution.REFUNDED_OUTSIDE})


@dataclass(frozen=True)
class Resolve:
    """An operator's decision on a bet's open review."""

    provider: str
    bet_ref: str
    resolution: Resolution
    operator: str
    note: str
    payout: Decimal | str | None = None
    deadline: datetime | None = None
    reference: str | None = None  # where a refund made outside betguard is recorded


@dataclass(frozen=True)
class Approval:
    """A second person's approval of a four-eyes proposal: resolving takes the proposal
    (compare-and-set) in the same transaction, so money moves once, on approval only."""

    proposal_id: int
    approver: str
    note: str
    version: int | None = None  # the bet's version when it was proposed: approved as seen


@dataclass(frozen=True)
class Recheck:
    """What an ordered re-check did: ``in_flight_until`` set means a check was already
    at the provider, so nothing was changed or sent: its answer will come."""

    bet: BetSnapshot
    in_flight_until: datetime | None = None

    @property
    def ordered(self) -> bool:
        return self.in_flight_until is None


def describe_recheck(recheck: Recheck) -> str:
    bet = recheck.bet
    if recheck.in_flight_until is not None:
        return (f"{bet.label}: a check is in flight until "
                f"{recheck.in_flight_until.isoformat(timespec='seconds')}; its answer will "
                "come (nothing else was sent)")
    return f"{bet.label}: check {bet.check_attempt} ordered now"


def resolve_review(ctx: Context, command: Resolve,
                   approval: Approval | None = None) -> BetSnapshot:
    """Apply an operator's decision. One that puts more at stake than the provider's
    ``four_eyes_above`` is refused (``NeedsApproval``) unless ``approval`` carries a second
    person's approval of its proposal (``betguard.services.approvals``)."""
    require_text(command.operator, "operator")
    require_text(command.note, "note")
    if command.reference is not None:
        require_text(command.reference, "reference")
    now = ctx.clock()
    with ctx.db.unit_of_work() as session:
        bet = repository.get_by_ref(session, command.provider, command.bet_ref)
        reviews = _open_reviews(session, bet)
        _refuse_a_second_payment(session, bet, reviews, command)
        change = _change_for(ctx, session, bet, command, now)
        _take_approval(ctx, session, bet, command, approval, now)
        if change is not None and not repository.apply(session, bet, change, now=now):
            raise IllegalTransition(f"bet {bet.label} changed meanwhile; look at it again")
        _close(session, bet, reviews, command, now, approval)
        session.commit()
        resolved = repository.get(session, bet.id)
    assert resolved is not None  # noqa: S101 - the bet was just read in this transaction
    _wake(ctx, resolved)
    return resolved


def check_resolution(ctx: Context, session: Session, command: Resolve,
                     now: datetime) -> BetSnapshot:
    """The bet, if the decision is one its state allows now (else the refusal, with its
    reason, as ``resolve_review`` would give it); nothing is written."""
    require_text(command.operator, "operator")
    require_text(command.note, "note")
    bet = repository.get_by_ref(session, command.provider, command.bet_ref)
    reviews = _open_reviews(session, bet)
    _refuse_a_second_payment(session, bet, reviews, command)
    _change_for(ctx, session, bet, command, now)
    return bet


def _open_reviews(session: Session, bet: BetSnapshot) -> list[Review]:
    reviews = repository.open_reviews(session, bet.id)
    if not reviews:
        raise IllegalTransition(f"bet {bet.label} has no open review")
    return reviews


def _refuse_a_second_payment(session: Session, bet: BetSnapshot, reviews: list[Review],
                             command: Resolve) -> None:
    """A resolution that would move money against a final fact the bet's reviews hold
    (or its provider's history shows) is refused, naming the fact."""
    if command.resolution not in MOVES_MONEY:
        return
    payout = None if command.payout is None else parse_payout(command.payout)
    refusal = money_refusal(bet, command.resolution, payout,
                            facts_about(session, bet, reviews))
    if refusal is not None:
        raise IllegalTransition(refusal)


def order_recheck(ctx: Context, provider: str, bet_ref: str, *, operator: str) -> Recheck:
    """Check a pending bet now instead of at its next scheduled time; unless a check is
    in flight (claimed, its lease not over): a second one would ask the provider again
    while the first still waits for its answer."""
    require_text(operator, "operator")
    now = ctx.clock()
    with ctx.db.unit_of_work() as session:
        bet = repository.get_by_ref(session, provider, bet_ref)
        if _check_in_flight(session, bet, now):
            return Recheck(bet, in_flight_until=bet.next_check_at)
        change = transitions.check_now(bet, operator=f"operator:{operator}", now=now)
        if not repository.apply(session, bet, change, now=now):
            raise IllegalTransition(f"bet {bet.label} changed meanwhile; look at it again")
        session.commit()
    ctx.scheduler.check(bet.id, bet.check_attempt, now, label=bet.label)
    return Recheck(bet)


def _check_in_flight(session: Session, bet: BetSnapshot, now: datetime) -> bool:
    latest = repository.latest_kinds(session, bet.id)
    return transitions.check_in_flight(bet, latest[0] if latest else None, now)


def _change_for(ctx: Context, session: Session, bet: BetSnapshot, command: Resolve,
                now: datetime) -> Change | None:
    """The resolution's change (``betguard.models.domain.decisions``), from what it rests on:
    the payout, the re-check's deadline, and a rejected refund's facts."""
    resolution = command.resolution
    payout = (parse_payout(command.payout)
              if resolution is Resolution.SETTLED and command.payout is not None else None)
    deadline = command.deadline
    if resolution is Resolution.RECHECK and deadline is None:
        deadline = now + timedelta(seconds=ctx.policy(bet.provider).deadline)
    refund = None
    if bet.state is BetState.REFUND_PENDING:
        in_flight = refund_in_flight(session, bet, now)
        refund = RefundFacts(key=refund_idempotency_key(bet.provider, bet.bet_ref),
                             in_flight_until=bet.next_check_at if in_flight else None,
                             wallet_refused=wallet_refused(session, bet.id))
    return change_for_resolution(bet, resolution, operator=command.operator,
                                 note=command.note, now=now, payout=payout,
                                 deadline=deadline, reference=command.reference,
                                 refund=refund)


def four_eyes(ctx: Context, bet: BetSnapshot, command: Resolve) -> Decimal | None:
    """The amount a decision puts at stake if it needs a second person, else None."""
    payout = (parse_payout(command.payout)
              if command.resolution is Resolution.SETTLED and command.payout is not None
              else None)
    threshold = ctx.policy(bet.provider).four_eyes_above
    if not needs_second_person(command.resolution, bet.stake, payout, threshold):
        return None
    return amount_at_stake(command.resolution, bet.stake, payout)


def _take_approval(ctx: Context, session: Session, bet: BetSnapshot, command: Resolve,
                   approval: Approval | None, now: datetime) -> None:
    amount = four_eyes(ctx, bet, command)
    if approval is None:
        if amount is not None:
            threshold = ctx.policy(bet.provider).four_eyes_above
            raise NeedsApproval(
                f"bet {bet.label}: {command.resolution.value} puts {amount} {bet.currency} "
                f"at stake, above {bet.provider}'s four-eyes threshold {threshold}: propose "
                "it, and a second person with the approver role approves it")
        return
    if approval.version is not None and approval.version != bet.version:
        raise IllegalTransition(f"bet {bet.label} changed since proposal "
                                f"#{approval.proposal_id} was made: look at it again and "
                                "propose anew")
    if not proposals.decide(session, approval.proposal_id, state="approved",
                            by=approval.approver, note=approval.note, now=now):
        raise IllegalTransition(f"proposal #{approval.proposal_id} was decided meanwhile; "
                                "look at it again")


def _close(session: Session, bet: BetSnapshot, reviews: list[Review], command: Resolve,
           now: datetime, approval: Approval | None = None) -> None:
    for review in reviews:
        review.resolved_at = now
        review.resolution = command.resolution.value
        review.operator = command.operator
        review.note = command.note
    detail: dict[str, Any] = {"resolution": command.resolution.value, "note": command.note,
              "reviews": [r.id for r in reviews]}
    if command.reference is not None:
        detail["reference"] = command.reference
    if approval is not None:
        detail |= {"approved_by": approval.approver, "proposal": approval.proposal_id}
    event = NewEvent(EventKind.REVIEW_RESOLVED, f"operator:{command.operator}", detail)
    repository.add_events(session, bet.id, [event], now=now)
    proposals.void_open(session, bet.id, by=command.operator,
                        why=f"the review was resolved ({command.resolution.value}) by "
                            f"{command.operator}", now=now)
    close_differences_of_reviews(session, reviews, resolution=command.resolution.value,
                                 operator=command.operator, note=command.note, now=now)


def _wake(ctx: Context, bet: BetSnapshot) -> None:
    if bet.state is BetState.PENDING and bet.next_check_at is not None:
        ctx.scheduler.check(bet.id, bet.check_attempt, bet.next_check_at, label=bet.label)
    elif bet.state is BetState.REFUND_PENDING and bet.next_check_at is not None:
        wake_refund(ctx, bet, bet.next_check_at)
