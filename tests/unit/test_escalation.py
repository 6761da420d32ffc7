"""The escalation decision: what a provider's answer (or silence) leads to.

Auto-refund only when it is safe (docs/design.md, invariant 6): the provider cancelled the
bet itself, or accepted our cancel (which fences the reference); otherwise a person
decides. A "never saw it" answer is no proof: providers register bets late.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from betguard.config.policies import Escalation, ProviderPolicy
from betguard.models.domain.escalation import (
    NOT_KNOWN_YET,
    Action,
    Decision,
    decide_after_cancel,
    decide_after_check,
    refund_allowed,
    unknown_believed_at,
)
from betguard.models.domain.events import ReviewReason
from betguard.providers.base import BetStatus, CancelOutcome, ProviderStatus
from tests.unit.escalation_cases import DEADLINE, NOW, PLACED_AT, REFUND, policy

GRACE = 60.0
STAKE = Decimal("50.00")
LIMIT = Decimal("100.00")
REVIEW = policy(Escalation.REVIEW)
REFUND_UP_TO = policy(Escalation.REFUND_UP_TO, refund_limit=LIMIT)
WITH_GRACE = {
    "refund": policy(Escalation.REFUND, unknown_grace=GRACE),
    "review": policy(Escalation.REVIEW, unknown_grace=GRACE),
    "refund_up_to": policy(Escalation.REFUND_UP_TO, refund_limit=LIMIT, unknown_grace=GRACE),
}
EVERY_POLICY = pytest.mark.parametrize(
    "any_policy", [REFUND, REVIEW, REFUND_UP_TO], ids=["refund", "review", "refund_up_to"]
)
BEFORE_AND_AFTER_DEADLINE = pytest.mark.parametrize(
    "now", [NOW, DEADLINE, DEADLINE + timedelta(days=3)], ids=["before", "at", "after"]
)


def answer(status: ProviderStatus, **changes: Any) -> BetStatus:
    return BetStatus(bet_ref="b-1", status=status, **changes)


def settled(payout: str | None = "120.50", currency: str | None = "EUR") -> BetStatus:
    amount = None if payout is None else Decimal(payout)
    return answer(ProviderStatus.SETTLED, payout=amount, currency=currency)


def after_check(
    the_policy: ProviderPolicy,
    the_answer: BetStatus | None,
    *,
    now: datetime = NOW,
    stake: Decimal = STAKE,
) -> Decision:
    return decide_after_check(
        the_policy, stake=stake, currency="EUR", answer=the_answer, now=now, deadline=DEADLINE,
        placed_at=PLACED_AT,
    )


# --- a final answer ------------------------------------------------------------


@EVERY_POLICY
@BEFORE_AND_AFTER_DEADLINE
def test_a_result_in_the_bets_currency_settles_the_bet(
    any_policy: ProviderPolicy, now: datetime
) -> None:
    assert after_check(any_policy, settled(), now=now).action is Action.SETTLE


def test_a_lost_bet_with_a_zero_payout_settles_too() -> None:
    assert after_check(REVIEW, settled(payout="0")).action is Action.SETTLE


@EVERY_POLICY
def test_a_result_in_another_currency_goes_to_review_as_ambiguous(
    any_policy: ProviderPolicy,
) -> None:
    decision = after_check(any_policy, settled(currency="USD"))
    assert decision.action is Action.REVIEW
    assert decision.review_reason is ReviewReason.AMBIGUOUS
    assert "USD" in decision.reason and "EUR" in decision.reason


@pytest.mark.parametrize(
    "odd", [settled(payout=None), settled(currency=None)], ids=["no payout", "no currency"]
)
def test_a_result_missing_its_payout_or_currency_goes_to_review_as_ambiguous(
    odd: BetStatus,
) -> None:
    decision = after_check(REFUND, odd)
    assert (decision.action, decision.review_reason) == (Action.REVIEW, ReviewReason.AMBIGUOUS)


@EVERY_POLICY
@BEFORE_AND_AFTER_DEADLINE
def test_a_bet_the_provider_says_it_cancelled_is_refunded_whatever_the_policy(
    any_policy: ProviderPolicy, now: datetime
) -> None:
    huge_stake = LIMIT * 1000
    decision = after_check(any_policy, answer(ProviderStatus.CANCELLED), now=now,
                           stake=huge_stake)
    assert decision.action is Action.REFUND
    assert decision.review_reason is None


# --- "never saw it": not a proof ------------------------------------------------


@EVERY_POLICY
@pytest.mark.parametrize(
    "now", [PLACED_AT, NOW, DEADLINE - timedelta(seconds=1)], ids=["placed", "soon", "just before"]
)
def test_a_bet_the_provider_does_not_know_before_its_deadline_is_checked_again_later(
    any_policy: ProviderPolicy, now: datetime
) -> None:
    decision = after_check(any_policy, answer(ProviderStatus.UNKNOWN), now=now)
    assert decision == Decision(Action.RESCHEDULE, NOT_KNOWN_YET)
    assert "register bets late" in decision.reason


@pytest.mark.parametrize("now", [DEADLINE, DEADLINE + timedelta(hours=1)], ids=["at", "after"])
def test_at_the_deadline_an_unknown_bet_under_a_refund_policy_is_cancelled_to_fence_it(
    now: datetime,
) -> None:
    decision = after_check(REFUND, answer(ProviderStatus.UNKNOWN), now=now)
    assert decision.action is Action.CANCEL
    assert "does not know the bet" in decision.reason


def test_at_the_deadline_an_unknown_bet_under_a_review_policy_goes_to_a_person() -> None:
    decision = after_check(REVIEW, answer(ProviderStatus.UNKNOWN), now=DEADLINE)
    assert (decision.action, decision.review_reason) == (Action.REVIEW, ReviewReason.DEADLINE)
    assert "does not know the bet" in decision.reason and "review" in decision.reason


@pytest.mark.parametrize(
    ("stake", "action"), [("100.00", Action.CANCEL), ("100.01", Action.REVIEW)]
)
def test_at_the_deadline_an_unknown_bet_follows_the_refund_limit(
    stake: str, action: Action
) -> None:
    decision = after_check(REFUND_UP_TO, answer(ProviderStatus.UNKNOWN), now=DEADLINE,
                           stake=Decimal(stake))
    assert decision.action is action
    if action is Action.REVIEW:
        assert decision.review_reason is ReviewReason.DEADLINE
        assert "100.01" in decision.reason and "refund limit" in decision.reason


@pytest.mark.parametrize(
    ("name", "stake", "action"),
    [("refund", "5000.00", Action.CANCEL), ("review", "1.00", Action.REVIEW),
     ("refund_up_to", "1.00", Action.CANCEL), ("refund_up_to", "500.00", Action.REVIEW)],
)
def test_after_the_unknown_grace_an_unknown_bet_takes_the_deadline_path_early(
    name: str, stake: str, action: Action
) -> None:
    the_policy = WITH_GRACE[name]
    after_grace = PLACED_AT + timedelta(seconds=GRACE)
    assert after_grace < DEADLINE
    decision = after_check(the_policy, answer(ProviderStatus.UNKNOWN), now=after_grace,
                           stake=Decimal(stake))
    assert decision.action is action


@pytest.mark.parametrize("name", sorted(WITH_GRACE))
def test_within_the_unknown_grace_an_unknown_bet_is_checked_again(name: str) -> None:
    just_before = PLACED_AT + timedelta(seconds=GRACE - 0.001)
    decision = after_check(WITH_GRACE[name], answer(ProviderStatus.UNKNOWN), now=just_before)
    assert decision.action is Action.RESCHEDULE


def test_the_unknown_grace_only_concerns_unknown_bets() -> None:
    after_grace = PLACED_AT + timedelta(seconds=GRACE + 1)
    for silence in (answer(ProviderStatus.PENDING), None):
        assert after_check(WITH_GRACE["refund"], silence, now=after_grace).action is \
            Action.RESCHEDULE


def test_an_unknown_answer_is_believed_from_the_grace_or_the_deadline_whichever_is_first() -> None:
    def believed(grace: float | None, deadline: datetime) -> datetime:
        the_policy = policy(Escalation.REFUND, unknown_grace=grace)
        return unknown_believed_at(the_policy, placed_at=PLACED_AT, deadline=deadline)

    assert believed(None, DEADLINE) == DEADLINE
    assert believed(GRACE, DEADLINE) == PLACED_AT + timedelta(seconds=GRACE)
    early_deadline = PLACED_AT + timedelta(seconds=10)  # a bet re-checked with a new deadline
    assert believed(GRACE, early_deadline) == early_deadline


@EVERY_POLICY
@pytest.mark.parametrize(
    "now", [PLACED_AT, NOW, DEADLINE, DEADLINE + timedelta(days=3)],
    ids=["placed", "before", "at", "after"],
)
def test_a_never_saw_it_answer_never_refunds_without_a_cancel(
    any_policy: ProviderPolicy, now: datetime
) -> None:
    for the_policy in (any_policy, WITH_GRACE[any_policy.escalation.value]):
        decision = after_check(the_policy, answer(ProviderStatus.UNKNOWN), now=now)
        assert decision.action is not Action.REFUND


# --- no result yet, before the deadline ----------------------------------------


@EVERY_POLICY
def test_a_pending_bet_before_the_deadline_is_checked_again_later(
    any_policy: ProviderPolicy,
) -> None:
    decision = after_check(any_policy, answer(ProviderStatus.PENDING))
    assert decision == Decision(Action.RESCHEDULE, "provider has no result yet")


@EVERY_POLICY
def test_a_provider_error_before_the_deadline_is_checked_again_later(
    any_policy: ProviderPolicy,
) -> None:
    decision = after_check(any_policy, None, now=DEADLINE - timedelta(seconds=1))
    assert decision.action is Action.RESCHEDULE
    assert decision.reason == "provider gave no usable answer"


# --- no result at the deadline -------------------------------------------------


@pytest.mark.parametrize(
    "silence", [answer(ProviderStatus.PENDING), None], ids=["pending", "error"]
)
@pytest.mark.parametrize("now", [DEADLINE, DEADLINE + timedelta(hours=1)], ids=["at", "after"])
def test_at_the_deadline_a_refund_policy_asks_the_provider_to_cancel(
    silence: BetStatus | None, now: datetime
) -> None:
    assert after_check(REFUND, silence, now=now).action is Action.CANCEL


@pytest.mark.parametrize(
    "silence", [answer(ProviderStatus.PENDING), None], ids=["pending", "error"]
)
def test_at_the_deadline_a_review_policy_hands_the_bet_to_a_person(
    silence: BetStatus | None,
) -> None:
    decision = after_check(REVIEW, silence, now=DEADLINE)
    assert (decision.action, decision.review_reason) == (Action.REVIEW, ReviewReason.DEADLINE)


@pytest.mark.parametrize("stake", ["0.01", "99.99", "100.00"], ids=["small", "below", "at"])
def test_at_the_deadline_a_stake_up_to_the_refund_limit_is_cancelled(stake: str) -> None:
    decision = after_check(
        REFUND_UP_TO, answer(ProviderStatus.PENDING), now=DEADLINE, stake=Decimal(stake)
    )
    assert decision.action is Action.CANCEL


def test_at_the_deadline_a_stake_above_the_refund_limit_goes_to_review() -> None:
    decision = after_check(
        REFUND_UP_TO, answer(ProviderStatus.PENDING), now=DEADLINE, stake=Decimal("100.01")
    )
    assert (decision.action, decision.review_reason) == (Action.REVIEW, ReviewReason.DEADLINE)
    assert "100.01" in decision.reason and "100.00" in decision.reason


def test_a_refund_up_to_policy_without_a_limit_never_refunds_at_the_deadline() -> None:
    unlimited = ProviderPolicy.model_construct(
        name="acme", escalation=Escalation.REFUND_UP_TO, refund_limit=None
    )
    assert not refund_allowed(unlimited, Decimal("0.01"))


# --- refund_allowed --------------------------------------------------------------


@pytest.mark.parametrize(
    ("the_policy", "stake", "allowed"),
    [
        (REFUND, Decimal("1e12"), True),
        (REVIEW, Decimal("0.01"), False),
        (REFUND_UP_TO, Decimal("99.99"), True),
        (REFUND_UP_TO, LIMIT, True),
        (REFUND_UP_TO, Decimal("100.0001"), False),
    ],
    ids=["refund-any-stake", "review-never", "up-to-below", "up-to-at", "up-to-above"],
)
def test_refunds_without_a_person_follow_the_policy(
    the_policy: ProviderPolicy, stake: Decimal, allowed: bool
) -> None:
    assert refund_allowed(the_policy, stake) is allowed


# --- after our cancel request -------------------------------------------------


def test_a_cancel_the_provider_accepts_is_refunded() -> None:
    outcome = CancelOutcome(accepted=True, status=answer(ProviderStatus.CANCELLED))
    assert decide_after_cancel(outcome, currency="EUR").action is Action.REFUND


def test_a_cancel_answered_with_a_result_settles_the_bet() -> None:
    outcome = CancelOutcome(accepted=False, status=settled())
    assert decide_after_cancel(outcome, currency="EUR").action is Action.SETTLE


def test_a_cancel_answered_with_a_result_in_another_currency_goes_to_review() -> None:
    outcome = CancelOutcome(accepted=False, status=settled(currency="GBP"))
    decision = decide_after_cancel(outcome, currency="EUR")
    assert (decision.action, decision.review_reason) == (Action.REVIEW, ReviewReason.AMBIGUOUS)


def test_a_cancel_the_provider_does_not_answer_goes_to_review() -> None:
    decision = decide_after_cancel(None, currency="EUR")
    assert (decision.action, decision.review_reason) == (Action.REVIEW, ReviewReason.DEADLINE)


def test_a_cancel_that_fences_a_bet_the_provider_did_not_know_is_refunded() -> None:
    tombstone = CancelOutcome(accepted=True, status=BetStatus("b-1", ProviderStatus.CANCELLED))
    decision = decide_after_cancel(tombstone, currency="EUR")
    assert decision == Decision(Action.REFUND, "provider accepted the cancel request")


def test_a_cancel_answered_never_saw_it_fences_nothing_and_goes_to_a_person() -> None:
    not_fenced = CancelOutcome(accepted=False, status=answer(ProviderStatus.UNKNOWN))
    decision = decide_after_cancel(not_fenced, currency="EUR")
    assert (decision.action, decision.review_reason) == (Action.REVIEW, ReviewReason.DEADLINE)
    assert "never saw it" in decision.reason and "late registration" in decision.reason


def test_a_refused_cancel_that_still_says_pending_goes_to_review_not_to_refund() -> None:
    outcome = CancelOutcome(accepted=False, status=answer(ProviderStatus.PENDING))
    decision = decide_after_cancel(outcome, currency="EUR")
    assert (decision.action, decision.review_reason) == (Action.REVIEW, ReviewReason.AMBIGUOUS)


@pytest.mark.parametrize(
    "the_answer",
    [None, answer(ProviderStatus.PENDING), answer(ProviderStatus.UNKNOWN), settled(),
     settled(currency="USD")],
    ids=["error", "pending", "unknown", "settled", "other-currency"],
)
def test_only_the_providers_own_cancelled_answer_ever_refunds_under_a_review_policy(
    the_answer: BetStatus | None,
) -> None:
    for now in (NOW, DEADLINE, DEADLINE + timedelta(days=1)):
        assert after_check(REVIEW, the_answer, now=now).action is not Action.REFUND
