"""Kinds of audit events and review reasons: the vocabulary of a bet's history."""

from __future__ import annotations

from enum import StrEnum


class EventKind(StrEnum):
    BET_PLACED = "bet_placed"
    CHECK_STARTED = "check_started"
    PROVIDER_ANSWERED = "provider_answered"
    PROVIDER_ERROR = "provider_error"
    CHECK_RESCHEDULED = "check_rescheduled"
    CANCEL_ANSWERED = "cancel_answered"
    CANCEL_FAILED = "cancel_failed"
    BET_SETTLED = "bet_settled"
    REFUND_DECIDED = "refund_decided"
    REFUND_FAILED = "refund_failed"
    REFUND_REJECTED = "refund_rejected"
    BET_REFUNDED = "bet_refunded"
    REVIEW_OPENED = "review_opened"
    REVIEW_RESOLVED = "review_resolved"
    RECHECK_ORDERED = "recheck_ordered"
    RESULT_REPORTED = "result_reported"
    CONFLICT_REVIEW_OPENED = "conflict_review_opened"
    LATE_ANSWER_IGNORED = "late_answer_ignored"
    CHECK_DISPATCHED_BY_SWEEP = "check_dispatched_by_sweep"
    REFUND_DISPATCHED_BY_SWEEP = "refund_dispatched_by_sweep"
    REFUND_STARTED = "refund_started"  # a refund attempt claimed the bet (its lease)
    REFUND_RETRIES_STOPPED = "refund_retries_stopped"  # rejected too often: a person decides
    REFUND_RETRY_ORDERED = "refund_retry_ordered"  # an operator asked for a retry now
    CHECK_CRASHED = "check_crashed"  # the check failed unexpectedly (not a provider answer)
    MIRROR_READ = "mirror_read"  # a history-only provider's bet, read from the feed's mirror
    RECONCILIATION_DIFFERENCE = "reconciliation_difference"  # the feed disagrees with us
    REVIEW_FACT_ATTACHED = "review_fact_attached"  # a final fact reached a bet in review


class ReviewReason(StrEnum):
    DEADLINE = "deadline"  # deadline passed; the policy or the provider's silence wants a person
    AMBIGUOUS = "ambiguous"  # the provider's answer does not fit the bet
    CONFLICT = "conflict"  # a result arrived that contradicts a decided bet
    REFUND_REJECTED = "refund_rejected"  # the wallet refused the refund
    CHECK_FAILING = "check_failing"  # the check crashed again and again: betguard cannot ask
    RECONCILIATION = "reconciliation"  # the provider's history disagrees with betguard's record


class Resolution(StrEnum):
    SETTLED = "settled"
    REFUNDED = "refunded"
    RECHECK = "recheck"
    ACKNOWLEDGED = "acknowledged"  # a conflict review closed without changing the bet
    RETRY_REFUND = "retry_refund"  # a rejected refund tried again now, under the same key
    REFUNDED_OUTSIDE = "refunded_outside"  # the stake was paid back outside betguard
