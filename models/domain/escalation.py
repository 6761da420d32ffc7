"""What to do with a provider's answer: the escalation decision as pure functions.

Auto-refund happens only when it is safe (docs/design.md, invariant 6): the provider
itself says the bet is cancelled, or it accepts our cancel request, which fences
the reference (the provider then holds the bet cancelled, so a late registration
or result of it is refused). Everything else that cannot be settled goes to a person.

A "never saw it" answer (404, UNKNOWN) is no such proof: providers register bets
late, so a bet they do not know yet may still be settled by them. Before its
deadline (or the policy's ``unknown_grace``) an unknown bet is checked again like
a pending one; after it, it takes the deadline path: a cancel that fences it, under
the policy's escalation and refund limit.

A provider is asked only for what it can do (its ``capabilities``, docs/design.md
"Provider capabilities"). Without a cancel call nothing fences a bet, so nothing
proves a refund safe but the provider's own "cancelled": the deadline path then waits
for the provider's own resolution (``provider_resolves_after``) when the policy says
it resolves pending bets itself, and otherwise sends the bet to a person. A "finished"
answer (the provider has the result, this answer does not carry it) waits for the
result from the history feed until the deadline, then goes to a person.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from betguard.models.domain.answers import (
    GENERIC_CAPABILITIES,
    BetStatus,
    CancelOutcome,
    Capability,
    ProviderStatus,
)
from betguard.models.domain.events import ReviewReason
from betguard.models.domain.policy import Escalation, EscalationPolicy


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
    # A reschedule that waits for something seen on its own clock (the next pull of a
    # history feed): ask again after this many seconds, not at the backoff's time.
    retry_in: float | None = None


NOT_KNOWN_YET = "provider does not know the bet yet; providers register bets late"
WAITING_FOR_PROVIDER = "waiting for the provider's own resolution"
FINISHED_WAITING = (
    "the provider says the round is finished but this answer does not carry its result; "
    "it comes from the provider's history feed"
)
NO_CANCEL = (
    "the provider has no cancel call, so nothing fences the bet and a refund could be "
    "paid twice; a person decides"
)
NOT_FENCED = (
    "the provider answered the cancel request with 'never saw it' and keeps no record of "
    "the cancel, so it cannot refuse a late registration of the bet: a refund could be "
    "paid twice; a person decides"
)


def refund_allowed(policy: EscalationPolicy, stake: Decimal) -> bool:
    """Whether the policy lets a bet of this stake be refunded without a person."""
    if policy.escalation is Escalation.REFUND:
        return True
    if policy.escalation is Escalation.REFUND_UP_TO:
        return policy.refund_limit is not None and stake <= policy.refund_limit
    return False


def unknown_believed_at(policy: EscalationPolicy, *, placed_at: datetime,
                        deadline: datetime) -> datetime:
    """From when a "never saw it" answer starts the deadline path: ``unknown_grace``
    after placement, never later than the deadline."""
    if policy.unknown_grace is None:
        return deadline
    return min(deadline, placed_at + timedelta(seconds=policy.unknown_grace))


@dataclass(frozen=True)
class ConflictingAnswer(BetStatus):
    """Several answers about one bet that disagree (e.g. a history feed with two records
    of one round, paid differently): nothing betguard can act on, so a person decides
    (REVIEW, AMBIGUOUS). Its ``status`` is FINISHED, so code that does not know this
    class still never settles or refunds on it; ``answers`` are the disagreeing ones.

    Neither UNKNOWN nor a provider error: both would only be asked again until the
    deadline, whose path could then refund a bet the provider has paid."""

    answers: tuple[BetStatus, ...] = ()
    # Why the answers cannot decide, when it is not that they disagree (the review's why).
    reason: str = ""

    def as_detail(self) -> dict[str, str | None]:
        detail = super().as_detail()
        if self.reason:
            detail["reason"] = self.reason
        detail["conflict"] = "; ".join(
            f"{a.status.value} {a.payout if a.payout is not None else '-'} {a.currency or ''}"
            .rstrip() for a in self.answers)
        return detail


def resolution_seen_at(policy: EscalationPolicy, capabilities: frozenset[Capability], *,
                       placed_at: datetime) -> datetime | None:
    """When a provider without a cancel call has resolved a still-pending bet itself and
    betguard can see it (``provider_resolves_after``, plus ``feed_lag`` when its answers
    come from a history feed); None when the policy says it never does."""
    if policy.provider_resolves_after is None or Capability.CANCEL in capabilities:
        return None
    lag = policy.feed_lag if Capability.HISTORY in capabilities else 0.0
    return placed_at + timedelta(seconds=policy.provider_resolves_after + lag)


def next_check_limit(policy: EscalationPolicy, capabilities: frozenset[Capability], *,
                     answer: BetStatus | None, now: datetime, placed_at: datetime,
                     deadline: datetime) -> datetime:
    """The latest moment for a bet's next check: the next moment after ``now`` at which
    the decision could change (the deadline; for an unknown bet the moment its "never
    saw it" is believed; for a bet waiting for the provider's own resolution the moment
    that resolution can be seen). The deadline when none is ahead."""
    moments = [deadline]
    if answer is not None and answer.status is ProviderStatus.UNKNOWN:
        moments.append(unknown_believed_at(policy, placed_at=placed_at, deadline=deadline))
    seen = resolution_seen_at(policy, capabilities, placed_at=placed_at)
    if seen is not None:
        moments.append(seen)
    ahead = [moment for moment in moments if moment > now]
    return min(ahead) if ahead else deadline


def decide_after_check(
    policy: EscalationPolicy,
    *,
    stake: Decimal,
    currency: str,
    answer: BetStatus | None,
    now: datetime,
    deadline: datetime,
    placed_at: datetime,
    capabilities: frozenset[Capability] = GENERIC_CAPABILITIES,
) -> Decision:
    """Decide from a status answer; ``answer`` is None when the provider gave none.
    ``capabilities`` are the provider's: the deadline path asks for a cancel only of a
    provider that has one."""
    if isinstance(answer, ConflictingAnswer):
        return Decision(
            Action.REVIEW,
            answer.reason or
            f"the provider's answers about the bet disagree ({answer.as_detail()['conflict']})",
            review_reason=ReviewReason.AMBIGUOUS,
        )
    if answer is not None and answer.status is ProviderStatus.UNKNOWN:
        if now < unknown_believed_at(policy, placed_at=placed_at, deadline=deadline):
            return Decision(Action.RESCHEDULE, NOT_KNOWN_YET)
        return _deadline_path(policy, stake, "the provider still does not know the bet",
                              capabilities, now=now, placed_at=placed_at)
    if answer is not None and answer.status is ProviderStatus.FINISHED:
        return _finished(now, deadline)
    if answer is not None and answer.status is not ProviderStatus.PENDING:
        return _decide_on_final_answer(answer, currency)
    if now < deadline:
        why = "provider has no result yet" if answer else "provider gave no usable answer"
        return Decision(Action.RESCHEDULE, why)
    return _deadline_path(policy, stake, "deadline passed", capabilities, now=now,
                          placed_at=placed_at)


def decide_after_cancel(outcome: CancelOutcome | None, *, currency: str,
                        now: datetime | None = None,
                        deadline: datetime | None = None) -> Decision:
    """Decide from the provider's answer to our cancel request (None: no answer).

    Only an accepted cancel refunds: the provider then holds the bet cancelled (for a
    bet it did not know, a tombstone that refuses its late registration). A cancel
    answered "never saw it" fences nothing, so a person decides. A cancel refused
    because the round is finished (its result not in the answer) waits for the result
    from the history feed while ``now`` is before the ``deadline`` (a cancel sent early,
    for an unknown bet past ``unknown_grace``); at the deadline (or when neither is
    given) a person decides.
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
    if outcome.status.status is ProviderStatus.FINISHED:
        if now is not None and deadline is not None:
            return _finished(now, deadline)
        return _finished_at_deadline()
    return _decide_on_final_answer(outcome.status, currency)


def _finished(now: datetime, deadline: datetime) -> Decision:
    if now < deadline:
        return Decision(Action.RESCHEDULE, FINISHED_WAITING)
    return _finished_at_deadline()


def _finished_at_deadline() -> Decision:
    return Decision(
        Action.REVIEW,
        "deadline passed: the provider says the round is finished, but its result never "
        "reached betguard; a person decides",
        review_reason=ReviewReason.AMBIGUOUS,
    )


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


def _deadline_path(policy: EscalationPolicy, stake: Decimal, why: str,
                   capabilities: frozenset[Capability] = GENERIC_CAPABILITIES, *,
                   now: datetime | None = None,
                   placed_at: datetime | None = None) -> Decision:
    if Capability.CANCEL not in capabilities:
        return _deadline_without_cancel(policy, why, capabilities, now=now,
                                        placed_at=placed_at)
    if refund_allowed(policy, stake):
        return Decision(Action.CANCEL, f"{why}; policy allows a refund")
    return Decision(
        Action.REVIEW, _deadline_review_why(policy, stake, why),
        review_reason=ReviewReason.DEADLINE,
    )


def _deadline_without_cancel(policy: EscalationPolicy, why: str,
                             capabilities: frozenset[Capability], *, now: datetime | None,
                             placed_at: datetime | None) -> Decision:
    """No cancel call: never a refund on betguard's word. Wait while the provider may
    still resolve the bet itself (its "cancelled" then refunds), else a person decides."""
    seen = None if placed_at is None else resolution_seen_at(policy, capabilities,
                                                             placed_at=placed_at)
    if seen is not None and now is not None and now < seen:
        return Decision(Action.RESCHEDULE, f"{why}; {WAITING_FOR_PROVIDER} "
                        f"(until {seen.isoformat()})")
    if policy.provider_resolves_after is not None:
        why = f"{why}; the provider did not resolve the bet itself in time"
    return Decision(Action.REVIEW, f"{why}; {NO_CANCEL}", review_reason=ReviewReason.DEADLINE)


def _deadline_review_why(policy: EscalationPolicy, stake: Decimal, why: str) -> str:
    if policy.escalation is Escalation.REFUND_UP_TO:
        return f"{why}; stake {stake} is above the refund limit {policy.refund_limit}"
    return f"{why}; policy sends unreturned bets to review"
