"""The escalation asks a provider only for what it can do.

Without a cancel call nothing fences a bet, so betguard never refunds on its own word:
the deadline waits for the provider's own resolution when the policy says it resolves
pending bets itself, and otherwise a person decides. A "finished" answer (the provider
has the result, this answer does not carry it) waits for the feed until the deadline.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import HttpUrl

from betguard.config.policies import Escalation, ProviderPolicy
from betguard.models.domain.escalation import (
    FINISHED_WAITING,
    NOT_KNOWN_YET,
    WAITING_FOR_PROVIDER,
    Action,
    ConflictingAnswer,
    Decision,
    decide_after_cancel,
    decide_after_check,
    next_check_limit,
    resolution_seen_at,
)
from betguard.models.domain.events import ReviewReason
from betguard.providers.base import (
    GENERIC_CAPABILITIES,
    BetStatus,
    CancelOutcome,
    Capability,
    ProviderStatus,
)

PLACED_AT = datetime(2026, 1, 1, tzinfo=UTC)
DEADLINE = PLACED_AT + timedelta(seconds=600)
BEFORE = PLACED_AT + timedelta(seconds=5)
AFTER = DEADLINE + timedelta(seconds=1)
STAKE = Decimal("10.00")
HISTORY_ONLY = frozenset({Capability.HISTORY})
STATUS_AND_HISTORY = frozenset({Capability.STATUS, Capability.HISTORY})
RESOLVES_AFTER = 3600.0
FEED_LAG = 300.0


def policy(escalation: Escalation = Escalation.REFUND, **changes: Any) -> ProviderPolicy:
    return ProviderPolicy(name="pg", base_url=HttpUrl("http://provider.test"),
                          escalation=escalation, deadline=600, feed_lag=FEED_LAG, **changes)


SELF_RESOLVING = policy(provider_resolves_after=RESOLVES_AFTER)
SEEN_AT = PLACED_AT + timedelta(seconds=RESOLVES_AFTER + FEED_LAG)


def answer(status: ProviderStatus, **changes: Any) -> BetStatus:
    return BetStatus(bet_ref="1234567890123456789", status=status, **changes)


def check(the_policy: ProviderPolicy, the_answer: BetStatus | None, *, now: datetime,
          capabilities: frozenset[Capability] = HISTORY_ONLY) -> Decision:
    return decide_after_check(the_policy, stake=STAKE, currency="EUR", answer=the_answer,
                              now=now, deadline=DEADLINE, placed_at=PLACED_AT,
                              capabilities=capabilities)


@pytest.mark.parametrize("escalation", list(Escalation))
def test_a_provider_without_cancel_is_never_asked_to_cancel_at_the_deadline(
        escalation: Escalation) -> None:
    the_policy = policy(escalation, refund_limit=Decimal("100")) \
        if escalation is Escalation.REFUND_UP_TO else policy(escalation)
    decision = check(the_policy, answer(ProviderStatus.PENDING), now=AFTER)
    assert decision.action is Action.REVIEW
    assert decision.review_reason is ReviewReason.DEADLINE
    assert "no cancel" in decision.reason and "nothing fences" in decision.reason


def test_the_same_policy_with_a_cancel_call_still_cancels_at_the_deadline() -> None:
    decision = check(policy(), answer(ProviderStatus.PENDING), now=AFTER,
                     capabilities=GENERIC_CAPABILITIES)
    assert decision.action is Action.CANCEL


def test_a_pending_bet_of_a_self_resolving_provider_waits_past_its_deadline() -> None:
    decision = check(SELF_RESOLVING, answer(ProviderStatus.PENDING), now=AFTER)
    assert decision.action is Action.RESCHEDULE
    assert WAITING_FOR_PROVIDER in decision.reason


def test_the_wait_for_the_provider_allows_for_its_feed_lag() -> None:
    resolved = PLACED_AT + timedelta(seconds=RESOLVES_AFTER + 1)  # resolved, not yet seen
    assert check(SELF_RESOLVING, None, now=resolved).action is Action.RESCHEDULE
    assert resolution_seen_at(SELF_RESOLVING, HISTORY_ONLY, placed_at=PLACED_AT) == SEEN_AT
    assert resolution_seen_at(SELF_RESOLVING, frozenset({Capability.STATUS}),
                              placed_at=PLACED_AT) == PLACED_AT + timedelta(
                                  seconds=RESOLVES_AFTER)


def test_a_bet_the_provider_did_not_resolve_in_time_goes_to_a_person_not_to_a_refund() -> None:
    decision = check(SELF_RESOLVING, answer(ProviderStatus.PENDING), now=SEEN_AT)
    assert decision.action is Action.REVIEW
    assert decision.review_reason is ReviewReason.DEADLINE
    assert "did not resolve the bet itself" in decision.reason


def test_a_provider_that_can_cancel_never_waits_for_its_own_resolution() -> None:
    assert resolution_seen_at(SELF_RESOLVING, GENERIC_CAPABILITIES, placed_at=PLACED_AT) is None
    decision = check(SELF_RESOLVING, None, now=AFTER, capabilities=GENERIC_CAPABILITIES)
    assert decision.action is Action.CANCEL


def test_the_provider_s_own_cancel_refunds_whatever_its_capabilities() -> None:
    cancelled = answer(ProviderStatus.CANCELLED, via="mirror")
    for now in (BEFORE, AFTER, SEEN_AT):
        decision = check(policy(Escalation.REVIEW), cancelled, now=now)
        assert decision.action is Action.REFUND
        assert decision.reason == "provider says the bet is cancelled"


def test_a_result_from_the_mirror_settles() -> None:
    won = answer(ProviderStatus.SETTLED, payout=Decimal("25.00"), currency="EUR", via="mirror")
    assert check(policy(), won, now=AFTER).action is Action.SETTLE


def test_an_unknown_bet_of_a_provider_without_cancel_is_never_refunded() -> None:
    graceful = policy(unknown_grace=60)
    unknown = answer(ProviderStatus.UNKNOWN)
    assert check(graceful, unknown, now=BEFORE).reason == NOT_KNOWN_YET
    believed = PLACED_AT + timedelta(seconds=61)
    decision = check(graceful, unknown, now=believed)
    assert decision.action is Action.REVIEW
    assert decision.review_reason is ReviewReason.DEADLINE
    assert "no cancel" in decision.reason


def test_an_unknown_bet_of_a_self_resolving_provider_waits_for_the_provider() -> None:
    the_policy = policy(unknown_grace=60, provider_resolves_after=RESOLVES_AFTER)
    decision = check(the_policy, answer(ProviderStatus.UNKNOWN), now=AFTER)
    assert decision.action is Action.RESCHEDULE
    assert WAITING_FOR_PROVIDER in decision.reason


def test_a_finished_round_waits_for_its_result_until_the_deadline() -> None:
    finished = answer(ProviderStatus.FINISHED)
    for capabilities in (STATUS_AND_HISTORY, GENERIC_CAPABILITIES):
        early = check(policy(), finished, now=BEFORE, capabilities=capabilities)
        assert (early.action, early.reason) == (Action.RESCHEDULE, FINISHED_WAITING)
        late = check(policy(), finished, now=DEADLINE, capabilities=capabilities)
        assert late.action is Action.REVIEW
        assert late.review_reason is ReviewReason.AMBIGUOUS


def test_history_records_that_disagree_send_the_bet_to_a_person_at_once() -> None:
    paid = answer(ProviderStatus.SETTLED, payout=Decimal("5.00"), currency="EUR")
    paid_again = answer(ProviderStatus.SETTLED, payout=Decimal("7.00"), currency="EUR")
    conflict = ConflictingAnswer(bet_ref=paid.bet_ref, status=ProviderStatus.FINISHED,
                                 via="mirror", answers=(paid, paid_again))
    decision = check(policy(), conflict, now=BEFORE)
    assert decision.action is Action.REVIEW
    assert decision.review_reason is ReviewReason.AMBIGUOUS
    assert "5.00" in decision.reason and "7.00" in decision.reason
    assert "5.00" in str(conflict.as_detail()["conflict"])


def refused_as_finished() -> CancelOutcome:
    return CancelOutcome(accepted=False, status=answer(ProviderStatus.FINISHED))


def test_a_cancel_refused_because_the_round_is_finished_waits_for_the_result() -> None:
    decision = decide_after_cancel(refused_as_finished(), currency="EUR", now=BEFORE,
                                   deadline=DEADLINE)
    assert (decision.action, decision.reason) == (Action.RESCHEDULE, FINISHED_WAITING)


def test_a_cancel_refused_as_finished_at_the_deadline_goes_to_a_person() -> None:
    for decision in (
        decide_after_cancel(refused_as_finished(), currency="EUR", now=DEADLINE,
                            deadline=DEADLINE),
        decide_after_cancel(refused_as_finished(), currency="EUR"),
    ):
        assert decision.action is Action.REVIEW
        assert decision.review_reason is ReviewReason.AMBIGUOUS


def test_the_next_check_is_never_later_than_the_provider_s_resolution_is_seen() -> None:
    pending = answer(ProviderStatus.PENDING)
    assert next_check_limit(SELF_RESOLVING, HISTORY_ONLY, answer=pending, now=BEFORE,
                            placed_at=PLACED_AT, deadline=DEADLINE) == DEADLINE
    assert next_check_limit(SELF_RESOLVING, HISTORY_ONLY, answer=pending, now=AFTER,
                            placed_at=PLACED_AT, deadline=DEADLINE) == SEEN_AT


def test_the_next_check_of_an_unknown_bet_is_never_later_than_its_grace() -> None:
    graceful = policy(unknown_grace=60)
    unknown = answer(ProviderStatus.UNKNOWN)
    limit = next_check_limit(graceful, GENERIC_CAPABILITIES, answer=unknown, now=BEFORE,
                             placed_at=PLACED_AT, deadline=DEADLINE)
    assert limit == PLACED_AT + timedelta(seconds=60)
