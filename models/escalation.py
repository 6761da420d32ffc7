"""What to do with a provider's answer: the escalation decision as pure functions.

Auto-refund happens only when it is safe (DESIGN.md invariant 6): the provider
confirms the bet is unknown or cancelled, or accepts our cancel request.
Everything else that cannot be settled goes to a person.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from config.policies import Escalation, ProviderPolicy
from models.events import ReviewReason
from providers.base import BetStatus, CancelOutcome, ProviderStatus


class Action(StrEnum):
    SETTLE = "settle"  # the provider has the result
    REFUND = "refund"  # safe to give the stake back
    CANCEL = "cancel"  # deadline passed under a refund policy: ask the provider to cancel
    REVIEW = "review"  # a person decides
    RESCHEDULE = "reschedule"  # ask again later


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str
    review_reason: ReviewReason | None = None


def refund_allowed(policy: ProviderPolicy, stake: Decimal) -> bool:
    """Whether the policy lets a bet of this stake be refunded without a person."""
    if policy.escalation is Escalation.REFUND:
        return True
    if policy.escalation is Escalation.REFUND_UP_TO:
        return policy.refund_limit is not None and stake <= policy.refund_limit
    return False


def decide_after_check(
    policy: ProviderPolicy,
    *,
    stake: Decimal,
    currency: str,
    answer: BetStatus | None,
    now: datetime,
    deadline: datetime,
) -> Decision:
    """Decide from a status answer; ``answer`` is None when the provider gave none."""
    if answer is not None and answer.status is not ProviderStatus.PENDING:
        return _decide_on_final_answer(answer, currency)
    if now < deadline:
        why = "provider has no result yet" if answer else "provider gave no usable answer"
        return Decision(Action.RESCHEDULE, why)
    if refund_allowed(policy, stake):
        return Decision(Action.CANCEL, "deadline passed; policy allows a refund")
    return Decision(
        Action.REVIEW, _deadline_review_why(policy, stake), review_reason=ReviewReason.DEADLINE
    )


def decide_after_cancel(outcome: CancelOutcome | None, *, currency: str) -> Decision:
    """Decide from the provider's answer to our cancel request (None: no answer)."""
    if outcome is None:
        return Decision(
            Action.REVIEW,
            "deadline passed and the provider did not answer the cancel request",
            review_reason=ReviewReason.DEADLINE,
        )
    if outcome.accepted:
        return Decision(Action.REFUND, "provider accepted the cancel request")
    return _decide_on_final_answer(outcome.status, currency)


def _decide_on_final_answer(answer: BetStatus, currency: str) -> Decision:
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
    if answer.status is ProviderStatus.UNKNOWN:
        return Decision(Action.REFUND, "provider says it never saw the bet")
    return Decision(
        Action.REVIEW, f"unexpected provider status {answer.status}", ReviewReason.AMBIGUOUS
    )


def _deadline_review_why(policy: ProviderPolicy, stake: Decimal) -> str:
    if policy.escalation is Escalation.REFUND_UP_TO:
        return f"deadline passed; stake {stake} is above the refund limit {policy.refund_limit}"
    return "deadline passed; policy sends unreturned bets to review"
