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


class ReviewReason(StrEnum):
    DEADLINE = "deadline"  # deadline passed; the policy or the provider's silence wants a person
    AMBIGUOUS = "ambiguous"  # the provider's answer does not fit the bet
    CONFLICT = "conflict"  # a result arrived that contradicts a decided bet
    REFUND_REJECTED = "refund_rejected"  # the wallet refused the refund


class Resolution(StrEnum):
    SETTLED = "settled"
    REFUNDED = "refunded"
    RECHECK = "recheck"
    ACKNOWLEDGED = "acknowledged"  # a conflict review closed without changing the bet
