"""The escalation decision: what a provider's answer (or silence) leads to.

Auto-refund only when it is safe (DESIGN.md invariant 6); otherwise a person decides.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import HttpUrl

from config.policies import Escalation, ProviderPolicy
from models.escalation import (
    Action,
    Decision,
    decide_after_cancel,
    decide_after_check,
    refund_allowed,
)
from models.events import ReviewReason
from providers.base import BetStatus, CancelOutcome, ProviderStatus

NOW = datetime(2026, 1, 1, tzinfo=UTC)
DEADLINE = NOW + timedelta(hours=6)
STAKE = Decimal("50.00")
LIMIT = Decimal("100.00")


def policy(escalation: Escalation, **changes: Any) -> ProviderPolicy:
    return ProviderPolicy(
        name="acme", base_url=HttpUrl("http://provider.test"), escalation=escalation, **changes
    )


REFUND = policy(Escalation.REFUND)
REVIEW = policy(Escalation.REVIEW)
REFUND_UP_TO = policy(Escalation.REFUND_UP_TO, refund_limit=LIMIT)
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
        the_policy, stake=stake, currency="EUR", answer=the_answer, now=now, deadline=DEADLINE
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
@pytest.mark.parametrize("status", [ProviderStatus.CANCELLED, ProviderStatus.UNKNOWN])
def test_a_cancelled_or_unknown_bet_is_refunded_whatever_the_policy(
    any_policy: ProviderPolicy, now: datetime, status: ProviderStatus
) -> None:
    huge_stake = LIMIT * 1000
    decision = after_check(any_policy, answer(status), now=now, stake=huge_stake)
    assert decision.action is Action.REFUND
    assert decision.review_reason is None


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


def test_a_refused_cancel_that_still_says_pending_goes_to_review_not_to_refund() -> None:
    outcome = CancelOutcome(accepted=False, status=answer(ProviderStatus.PENDING))
    decision = decide_after_cancel(outcome, currency="EUR")
    assert (decision.action, decision.review_reason) == (Action.REVIEW, ReviewReason.AMBIGUOUS)


@pytest.mark.parametrize(
    "the_answer",
    [None, answer(ProviderStatus.PENDING), settled(), settled(currency="USD")],
    ids=["error", "pending", "settled", "other-currency"],
)
def test_only_a_cancelled_or_unknown_answer_ever_refunds_under_a_review_policy(
    the_answer: BetStatus | None,
) -> None:
    for now in (NOW, DEADLINE, DEADLINE + timedelta(days=1)):
        assert after_check(REVIEW, the_answer, now=now).action is not Action.REFUND
