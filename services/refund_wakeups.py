"""Waking a refund up with the attempt it is for, and what a bet's history says about
its refund (whether the wallet's last word was a rejection, how many in a row).

A refund wake-up carries the bet's attempt number, as a check's does, so a duplicate
or stale delivery is only counted. A wake-up without one (a message published before
attempts were carried) claims a bet only while no attempt holds it.
"""

from __future__ import annotations

from datetime import datetime

from betguard.models.domain.events import EventKind
from betguard.models.domain.snapshot import BetSnapshot
from betguard.models.domain.states import BetState
from betguard.models.store import repository
from betguard.models.store.db import Session
from betguard.services.context import Context

# What the wallet or an operator did about a refund, newest first in a bet's history.
REFUND_STEPS = (EventKind.REFUND_DECIDED, EventKind.REFUND_STARTED, EventKind.REFUND_FAILED,
                EventKind.REFUND_REJECTED, EventKind.BET_REFUNDED,
                EventKind.REFUND_RETRY_ORDERED, EventKind.REVIEW_RESOLVED)
# A fresh run of automatic retries begins when the refund is decided or a person acts.
FRESH_START = {EventKind.REFUND_DECIDED.value, EventKind.REFUND_RETRY_ORDERED.value,
               EventKind.REVIEW_RESOLVED.value}
HISTORY_LIMIT = 200
# What tells whether an attempt holds the refund: the steps, and a sweep sending it again.
HOLDS = (*REFUND_STEPS, EventKind.REFUND_DISPATCHED_BY_SWEEP)


def wake_refund(ctx: Context, bet: BetSnapshot, at: datetime) -> None:
    """After commit: the bet's next refund attempt, for the attempt number it holds now."""
    ctx.scheduler.refund(bet.id, at, label=bet.label, attempt=bet.check_attempt)


def rejections_since_decided(session: Session, bet_id: int) -> int:
    """Rejections since the refund was decided or a person last acted on it."""
    count = 0
    for kind in repository.latest_kinds(session, bet_id, REFUND_STEPS, HISTORY_LIMIT):
        if kind in FRESH_START:
            break
        count += kind == EventKind.REFUND_REJECTED.value
    return count


def wallet_refused(session: Session, bet_id: int) -> bool:
    """Whether the wallet's last word on the refund was a rejection, with no attempt
    started since: then it paid nothing, and none of its calls is in flight."""
    latest = repository.latest_kinds(
        session, bet_id, [k for k in REFUND_STEPS if k is not EventKind.REVIEW_RESOLVED])
    return latest == [EventKind.REFUND_REJECTED.value]


def refund_in_flight(session: Session, bet: BetSnapshot, now: datetime) -> bool:
    """An attempt holds the refund: it started, no sweep has sent it again since (its
    lease ran out), and its lease is not over."""
    latest = repository.latest_kinds(session, bet.id, HOLDS)
    return latest == [EventKind.REFUND_STARTED.value] and bet.next_check_at is not None \
        and bet.next_check_at > now


def free_attempt(session: Session, bet_id: int, now: datetime) -> int | None:
    """The attempt number a wake-up published without one may claim: the bet's current
    one, if the refund is due at all (its retries not stopped) and no attempt holds it."""
    bet = repository.get(session, bet_id)
    if bet is None or bet.state is not BetState.REFUND_PENDING or bet.next_check_at is None:
        return None
    return None if refund_in_flight(session, bet, now) else bet.check_attempt
