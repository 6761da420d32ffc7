"""A decision becomes a change of the bet here, and only here: the escalation's decision
after a check or a crash (:func:`change_for_decision`), and an operator's resolution of
a bet's review (:func:`change_for_resolution`).

Pure: the caller reads first what a change rests on (the next backoff time, the review's
facts about a rejected refund) and applies the change returned, a compare-and-set, or
reports the error raised. The verbs themselves, one per way a bet's state may change,
are in ``betguard.models.domain.transitions``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from betguard.models.domain import transitions
from betguard.models.domain.answers import BetStatus
from betguard.models.domain.errors import IllegalTransition, InvalidCommand
from betguard.models.domain.escalation import Action, Decision
from betguard.models.domain.events import Resolution, ReviewReason
from betguard.models.domain.snapshot import BetSnapshot
from betguard.models.domain.states import FINAL_STATES, BetState
from betguard.models.domain.transitions import Change, NewEvent

# How far ahead an operator's re-check may set the bet's new deadline.
MAX_RECHECK = timedelta(days=365)


def change_for_decision(
    bet: BetSnapshot, decision: Decision, *, now: datetime, found: Sequence[NewEvent] = (),
    answer: BetStatus | None = None, settled_by: str = "betguard",
    next_check_at: datetime | None = None, review_detail: dict[str, Any] | None = None,
) -> Change:
    """The change a pending bet takes for ``decision``, after the events ``found``.

    SETTLE pays the answer's payout (an answer without one is no settlement: a person
    decides); REFUND decides the refund; RESCHEDULE needs ``next_check_at``; anything
    else -- REVIEW, or a CANCEL left without the cancel's answer -- opens a review for its
    reason (AMBIGUOUS when it names none), its detail ``review_detail`` or the answer.
    Only a pending bet is decided so: any other raises ``IllegalTransition``."""
    if bet.state is not BetState.PENDING:
        raise IllegalTransition(f"bet {bet.label} is {bet.state.value}: only a pending "
                                "bet's check decides it")
    if decision.action is Action.SETTLE and answer is not None and answer.payout is not None:
        change = transitions.settle(bet, payout=answer.payout, actor=settled_by,
                                    why=decision.reason, now=now)
    elif decision.action is Action.REFUND:
        change = transitions.decide_refund(bet, actor="betguard", why=decision.reason, now=now)
    elif decision.action is Action.RESCHEDULE:
        if next_check_at is None:
            raise ValueError("a rescheduled check needs its next check's time")
        change = transitions.reschedule(bet, at=next_check_at, events=[], why=decision.reason)
    else:
        detail = review_detail if review_detail is not None else {
            "answer": answer.as_detail() if answer else None}
        change = transitions.open_review(
            bet, reason=decision.review_reason or ReviewReason.AMBIGUOUS, why=decision.reason,
            actor="betguard", detail=detail)
    return change.preceded_by(found)


@dataclass(frozen=True)
class RefundFacts:
    """What an operator's way out of a refund the wallet rejected rests on, read by the
    caller in the same transaction."""

    key: str  # the refund's one idempotency key: it never changes
    in_flight_until: datetime | None  # a refund attempt holds the bet until then
    wallet_refused: bool  # the wallet's last word was a rejection, with no attempt since


def change_for_resolution(
    bet: BetSnapshot, resolution: Resolution, *, operator: str, note: str, now: datetime,
    payout: Decimal | None = None, deadline: datetime | None = None,
    reference: str | None = None, refund: RefundFacts | None = None,
) -> Change | None:
    """The change an operator's ``resolution`` makes to a bet with an open review (None:
    acknowledging a final bet's review changes nothing). Raises ``IllegalTransition``
    for a resolution the bet's state does not allow, naming its ways out, and
    ``InvalidCommand`` for a resolution missing what it needs. A re-check's ``deadline``
    is the bet's new one; ``refund`` is needed for a ``refund_pending`` bet (its rejected
    refund's facts)."""
    if resolution is Resolution.ACKNOWLEDGED:
        if bet.state not in FINAL_STATES:
            raise IllegalTransition(not_final(bet))
        return None
    actor = f"operator:{operator}"
    if bet.state is BetState.REFUND_PENDING:
        if refund is None:
            raise ValueError("a refund_pending bet's resolution needs its refund's facts")
        return _out_of_a_rejected_refund(bet, resolution, actor=actor, note=note, now=now,
                                         payout=payout, reference=reference, refund=refund)
    if bet.state is BetState.PENDING:
        raise IllegalTransition(not_final(bet))
    if bet.state is not BetState.IN_REVIEW:
        raise IllegalTransition(
            f"bet {bet.label} is {bet.state.value}; only acknowledging its review is possible")
    return _out_of_review(bet, resolution, actor=actor, note=note, now=now, payout=payout,
                          deadline=deadline)


def _out_of_review(bet: BetSnapshot, resolution: Resolution, *, actor: str, note: str,
                   now: datetime, payout: Decimal | None, deadline: datetime | None) -> Change:
    """A bet in review settled, refunded or checked again (a new deadline)."""
    if resolution is Resolution.SETTLED:
        return transitions.settle(bet, payout=_needed(payout), actor=actor, why=note, now=now)
    if resolution is Resolution.REFUNDED:
        return transitions.decide_refund(bet, actor=actor, why=note, now=now)
    if resolution is not Resolution.RECHECK:
        raise IllegalTransition(f"bet {bet.label} is in review: settle, refund or re-check it")
    if deadline is None or not now < deadline <= now + MAX_RECHECK:
        raise InvalidCommand("deadline: must be in the future, and within a year")
    return transitions.order_recheck(bet, deadline=deadline, operator=actor, note=note, now=now)


def _out_of_a_rejected_refund(
    bet: BetSnapshot, resolution: Resolution, *, actor: str, note: str, now: datetime,
    payout: Decimal | None, reference: str | None, refund: RefundFacts,
) -> Change:
    """A way out for a refund the wallet rejected. Money: the refund's key never changes,
    and the bet is settled or marked refunded only while the wallet's last word was a
    rejection with no attempt since (it paid nothing); the version check of the caller's
    compare-and-set refuses the change if an attempt starts meanwhile."""
    if resolution is Resolution.RETRY_REFUND:
        if refund.in_flight_until is not None:
            raise IllegalTransition(f"bet {bet.label}: a refund attempt is in flight until "
                                    f"{refund.in_flight_until}; its answer will come")
        return transitions.retry_refund_now(bet, operator=actor, note=note, key=refund.key,
                                            now=now)
    if resolution is Resolution.REFUNDED_OUTSIDE:
        if reference is None:
            raise InvalidCommand("reference: must not be empty")
        return transitions.refund_outside(bet, operator=actor, reference=reference, note=note,
                                          wallet_refused=refund.wallet_refused, now=now)
    if resolution is Resolution.SETTLED:
        return transitions.settle_instead_of_refund(
            bet, payout=_needed(payout), operator=actor, note=note,
            wallet_refused=refund.wallet_refused, now=now)
    raise IllegalTransition(
        f"bet {bet.label} is refund_pending: retry the refund, record it as refunded outside "
        "betguard, or settle it (if the wallet rejected the refund)")


def _needed(payout: Decimal | None) -> Decimal:
    if payout is None:
        raise InvalidCommand("payout: settling needs a payout")
    return payout


def not_final(bet: BetSnapshot) -> str:
    """Why a review of a bet not yet final is not acknowledged, and its ways out: closing
    it without a decision could leave the bet with no open review and no next step (a
    refund whose retries stopped is taken by no sweep: its stake would never return)."""
    if bet.state is BetState.REFUND_PENDING:
        return (f"bet {bet.label} is refund_pending, not final: its review stays open until "
                "the stake is returned or the bet settled; retry the refund, record it as "
                "refunded outside betguard, or settle it (if the wallet rejected the refund); "
                "a conflict is acknowledged once the bet is refunded")
    if bet.state is BetState.PENDING:
        return (f"bet {bet.label} is pending, not final: its check decides it (order one "
                "now with a re-check); resolve a reconciliation difference as a difference")
    return f"bet {bet.label} is {bet.state.value}: settle, refund or re-check it"
