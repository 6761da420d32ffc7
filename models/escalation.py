"""What to do with a provider's answer: the escalation decision as pure functions.

Auto-refund happens only when it is safe (docs/design.md invariant 6): the provider
itself says the bet is cancelled, or it accepts our cancel request, which fences
the reference (the provider then holds the bet cancelled, so a late registration
or result of it is refused). Everything else that cannot be settled goes to a person.

A "never saw it" answer (404, UNKNOWN) is no such proof: providers register bets
late, so a bet they do not know yet may still be settled by them. Before its
deadline (or the policy's ``unknown_grace``) an unknown bet is checked again like
a pending one; after it, it takes the deadline path: a cancel that fences it, under
the policy's escalation and refund limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from config.policies import Escalation, ProviderPolicy
from models.events import ReviewReason
from providers.base import BetStatus, CancelOutcome, ProviderStatus


class Action(StrEnum):
    SETTLE = "settle"  # the provider has the result
    REFUND = "refund"  # safe to give the stake back
    CANCEL = "cancel"  # deadline path under a refund policy: ask the provider to cancel (fence)
    REVIEW = "review"  # a person decides
    RESCHEDULE = "reschedule"  # ask again later


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str
    review_reason: ReviewReason | None = None


NOT_KNOWN_YET = "provider does not know the bet yet; providers register bets late"
NOT_FENCED = (
    "the provider answered the cancel request with 'never saw it' and keeps no record of "
    "the cancel, so it cannot refuse a late registration of the bet: a refund could be "
    "paid twice; a person decides"
)


def refund_allowed(policy: ProviderPolicy, stake: Decimal) -> bool:
    """Whether the policy lets a bet of this stake be refunded without a person."""
    if policy.escalation is Escalation.REFUND:
        return True
    if policy.escalation is Escalation.REFUND_UP_TO:
        return policy.refund_limit is not None and stake <= policy.refund_limit
    return False


def unknown_believed_at(policy: ProviderPolicy, *, placed_at: datetime,
                        deadline: datetime) -> datetime:
    """From when a "never saw it" answer starts the deadline path: ``unknown_grace``
    after placement, never later than the deadline."""
    if policy.unknown_grace is None:
        return deadline
    return min(deadline, placed_at + timedelta(seconds=policy.unknown_grace))


def decide_after_check(
    policy: ProviderPolicy,
    *,
    stake: Decimal,
    currency: str,
    answer: BetStatus | None,
    now: datetime,
    deadline: datetime,
    placed_at: datetime,
) -> Decision:
    """Decide from a status answer; ``answer`` is None when the provider gave none."""
    if answer is not None and answer.status is ProviderStatus.UNKNOWN:
        if now < unknown_believed_at(policy, placed_at=placed_at, deadline=deadline):
            return Decision(Action.RESCHEDULE, NOT_KNOWN_YET)
        return _deadline_path(policy, stake, "the provider still does not know the bet")
    if answer is not None and answer.status is not ProviderStatus.PENDING:
        return _decide_on_final_answer(answer, currency)
    if now < deadline:
        why = "provider has no result yet" if answer else "provider gave no usable answer"
        return Decision(Action.RESCHEDULE, why)
    return _deadline_path(policy, stake, "deadline passed")


def decide_after_cancel(outcome: CancelOutcome | None, *, currency: str) -> Decision:
    """Decide from the provider's answer to our cancel request (None: no answer).

    Only an accepted cancel refunds: the provider then holds the bet cancelled (for a
    bet it did not know, a tombstone that refuses its late registration). A cancel
    answered "never saw it" fences nothing, so a person decides.
    """
    if outcome is None:
        return Decision(
            Action.REVIEW,
            "deadline passed and the provider did not answer the cancel request",
            review_reason=ReviewReason.DEADLINE,
        )
    if outcome.accepted:
        return Decision(Action.REFUND, "provider accepted the cancel request")
    if outcome.status.status is ProviderStatus.UNKNOWN:
        return Decision(Action.REVIEW, NOT_FENCED, review_reason=ReviewReason.DEADLINE)
    return _decide_on_final_answer(outcome.status, currency)


def _decide_on_final_answer(answer: BetStatus, currency: str) -> Decision:
    """A settled answer settles; a "cancelled" status is the provider's own cancel, its
    proof that nothing will settle the bet: refunded at once, whatever the policy."""
    if answer.status is ProviderStatus.SETTLED:
        if answer.payout is None or answer.currency != currency:
            return Decision(
                Action.REVIEW,
                f"provider result in {answer.currency} does not fit a bet in {currency}",
                review_reason=ReviewReason.AMBIGUOUS,
            )
        return Decision(Action.SETTLE, "provider returned the result")
    if answer.status is ProviderStatus.CANCELLED:
        return Decision(Action.REFUND, "provider says the bet is cancelled")
    return Decision(
        Action.REVIEW, f"unexpected provider status {answer.status}", ReviewReason.AMBIGUOUS
    )


def _deadline_path(policy: ProviderPolicy, stake: Decimal, why: str) -> Decision:
    if refund_allowed(policy, stake):
        return Decision(Action.CANCEL, f"{why}; policy allows a refund")
    return Decision(
        Action.REVIEW, _deadline_review_why(policy, stake, why),
        review_reason=ReviewReason.DEADLINE,
    )


def _deadline_review_why(policy: ProviderPolicy, stake: Decimal, why: str) -> str:
    if policy.escalation is Escalation.REFUND_UP_TO:
        return f"{why}; stake {stake} is above the refund limit {policy.refund_limit}"
    return f"{why}; policy sends unreturned bets to review"
