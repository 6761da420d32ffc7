"""Refunds through the wallet: exactly once, under a key derived from the bet.

A refund in doubt (no answer) stays ``refund_pending`` and is tried again under
the same key; the wallet answers a replay with its first answer. A refund the wallet
rejects is tried again a few times (a person is asked at the first rejection), then
no more: it waits, with its review open, for an operator to retry it, record it as
paid outside betguard, or settle the bet (``betguard.services.reviews``).

The wallet pays each bet's stake back once, whoever asks: when the provider rolled the
bet back on its own first, the wallet answers betguard's refund with that first refund
(``RefundReceipt.paid_by``): the bet ends refunded, its event saying who paid.

Each attempt holds the bet by its attempt number and a lease, as a check does: a
duplicate or stale delivery never calls the wallet while another attempt is on it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from betguard.models.domain import transitions
from betguard.models.domain.events import EventKind, ReviewReason
from betguard.models.domain.snapshot import BetSnapshot
from betguard.models.domain.transitions import NewEvent
from betguard.models.store import repository
from betguard.models.store.db import Session
from betguard.providers.errors import WalletRejected, WalletUnavailable
from betguard.providers.wallet import refund_idempotency_key
from betguard.services.context import Context
from betguard.services.refund_wakeups import free_attempt, rejections_since_decided, wake_refund

# A refused refund needs a person; retrying it often only adds noise.
REJECTED_RETRY_FACTOR = 10
# After this many rejections (since the refund was decided or a person last acted on
# it), betguard stops retrying on its own.
MAX_REJECTIONS = 3


class RefundOutcome(StrEnum):
    STALE = "stale"  # duplicate or outdated delivery, or another attempt holds it
    REFUNDED = "refunded"
    IN_DOUBT = "in_doubt"
    REJECTED = "rejected"  # tried again later
    GIVEN_UP = "given_up"  # rejected too often: no more automatic retries


def run_refund(ctx: Context, bet_id: int, attempt: int | None = None) -> RefundOutcome:
    bet = _claim(ctx, bet_id, attempt)
    if bet is None:
        return RefundOutcome.STALE
    key = refund_idempotency_key(bet.provider, bet.bet_ref)
    try:
        receipt = ctx.wallet.refund(
            idempotency_key=key, provider=bet.provider, bet_ref=bet.bet_ref,
            amount=bet.stake, currency=bet.currency,
        )
    except WalletUnavailable as exc:
        _retry_later(ctx, bet, _found(EventKind.REFUND_FAILED, key, exc), 1)
        return RefundOutcome.IN_DOUBT
    except WalletRejected as exc:
        return _rejected(ctx, bet, _found(EventKind.REFUND_REJECTED, key, exc))
    now = ctx.clock()
    change = transitions.confirm_refund(bet, refund_id=receipt.refund_id, key=key,
                                        paid_by=receipt.paid_by, now=now)

    def confirm() -> None:  # again after a lost COMMIT answer: the compare-and-set refuses
        with ctx.db.unit_of_work() as session:
            repository.apply(session, bet, change, now=now)
            session.commit()

    ctx.db.retry(confirm)
    return RefundOutcome.REFUNDED


def _claim(ctx: Context, bet_id: int, attempt: int | None) -> BetSnapshot | None:
    """Hold the refund for one attempt so neither the sweep nor a duplicate delivery
    calls the wallet meanwhile. A wake-up without an attempt number takes the bet's
    current one, unless an attempt holds it."""
    now = ctx.clock()
    lease_until = now + timedelta(seconds=ctx.timing.check_lease)
    with ctx.db.unit_of_work() as session:
        if attempt is None:
            attempt = free_attempt(session, bet_id, now)
        if attempt is None:
            repository.count_duplicate(session, bet_id)
            claimed = None
        else:
            claimed = repository.claim_refund(session, bet_id, attempt,
                                              lease_until=lease_until, now=now)
        session.commit()
    return claimed


def _found(kind: EventKind, key: str, exc: Exception) -> NewEvent:
    return NewEvent(kind, "wallet", {"idempotency_key": key, "error": type(exc).__name__,
                                     "message": str(exc)[:500]})


def _retry_later(ctx: Context, bet: BetSnapshot, found: NewEvent, factor: int) -> None:
    now = ctx.clock()
    at = now + timedelta(seconds=ctx.timing.refund_retry_delay * factor)
    found = NewEvent(found.kind, found.actor, {**found.detail, "retry_at": at.isoformat()})
    with ctx.db.unit_of_work() as session:
        applied = repository.apply(session, bet, transitions.retry_refund_later(
            bet, at=at, found=found), now=now)
        if applied and found.kind is EventKind.REFUND_REJECTED:
            _open_rejection_review(session, bet, found.detail, now)
        session.commit()
    wake_refund(ctx, bet, at)


def _rejected(ctx: Context, bet: BetSnapshot, found: NewEvent) -> RefundOutcome:
    """Try a rejected refund again later, unless it was rejected too often already."""
    with ctx.db.unit_of_work() as session:
        rejections = rejections_since_decided(session, bet.id) + 1
    if rejections < MAX_REJECTIONS:
        _retry_later(ctx, bet, found, REJECTED_RETRY_FACTOR)
        return RefundOutcome.REJECTED
    now = ctx.clock()
    change = transitions.stop_refund_retries(bet, found=found, rejections=rejections)
    with ctx.db.unit_of_work() as session:
        if repository.apply(session, bet, change, now=now):
            _open_rejection_review(session, bet, {**found.detail, "rejections": rejections,
                                                  "retries": "stopped"}, now)
        session.commit()
    return RefundOutcome.GIVEN_UP


def _open_rejection_review(session: Session, bet: BetSnapshot, detail: dict[str, object],
                           now: datetime) -> None:
    if not any(r.reason == ReviewReason.REFUND_REJECTED
               for r in repository.open_reviews(session, bet.id)):
        repository.open_review_item(session, bet.id, ReviewReason.REFUND_REJECTED,
                                    dict(detail), now=now)
