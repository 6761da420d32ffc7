"""Refunds through the wallet: exactly once, under a key derived from the bet.

A refund in doubt (no answer) stays ``refund_pending`` and is tried again under
the same key; the wallet answers a replay with its first answer.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy.orm import Session

from models import repository, transitions
from models.events import EventKind, ReviewReason
from models.snapshot import BetSnapshot
from models.states import BetState
from models.transitions import Change, NewEvent
from providers.errors import WalletRejected, WalletUnavailable
from providers.wallet import refund_idempotency_key
from services.context import Context

# A refused refund needs a person; retrying it often only adds noise.
REJECTED_RETRY_FACTOR = 10


class RefundOutcome(StrEnum):
    STALE = "stale"
    REFUNDED = "refunded"
    IN_DOUBT = "in_doubt"
    REJECTED = "rejected"


def run_refund(ctx: Context, bet_id: int) -> RefundOutcome:
    bet = _claim(ctx, bet_id)
    if bet is None:
        return RefundOutcome.STALE
    key = refund_idempotency_key(bet.provider, bet.bet_ref)
    try:
        receipt = ctx.wallet.refund(
            idempotency_key=key, provider=bet.provider, bet_ref=bet.bet_ref,
            amount=bet.stake, currency=bet.currency,
        )
    except WalletUnavailable as exc:
        _retry_later(ctx, bet, EventKind.REFUND_FAILED, key, exc, 1)
        return RefundOutcome.IN_DOUBT
    except WalletRejected as exc:
        _retry_later(ctx, bet, EventKind.REFUND_REJECTED, key, exc, REJECTED_RETRY_FACTOR)
        return RefundOutcome.REJECTED
    now = ctx.clock()
    with ctx.db.unit_of_work() as session:
        change = transitions.confirm_refund(bet, refund_id=receipt.refund_id, key=key, now=now)
        repository.apply(session, bet, change, now=now)
        session.commit()
    return RefundOutcome.REFUNDED


def _claim(ctx: Context, bet_id: int) -> BetSnapshot | None:
    """Hold the refund for one attempt so the sweep does not send it again meanwhile."""
    now = ctx.clock()
    lease_until = now + timedelta(seconds=ctx.timing.check_lease)
    with ctx.db.unit_of_work() as session:
        bet = repository.get(session, bet_id)
        if bet is None or bet.state is not BetState.REFUND_PENDING:
            return None
        hold = Change(BetState.REFUND_PENDING, {"next_check_at": lease_until}, [])
        if not repository.apply(session, bet, hold, now=now):
            return None
        claimed = repository.get(session, bet_id)
        session.commit()
    return claimed


def _retry_later(
    ctx: Context, bet: BetSnapshot, kind: EventKind, key: str, exc: Exception, factor: int
) -> None:
    now = ctx.clock()
    at = now + timedelta(seconds=ctx.timing.refund_retry_delay * factor)
    detail = {"idempotency_key": key, "error": type(exc).__name__, "message": str(exc)[:500],
              "retry_at": at.isoformat()}
    change = Change(BetState.REFUND_PENDING, {"next_check_at": at},
                    [NewEvent(kind, "wallet", detail)])
    with ctx.db.unit_of_work() as session:
        if repository.apply(session, bet, change, now=now) and kind is EventKind.REFUND_REJECTED:
            _open_rejection_review(session, bet, detail, now)
        session.commit()
    ctx.scheduler.refund(bet.id, at, label=bet.label)


def _open_rejection_review(session: Session, bet: BetSnapshot, detail: dict[str, str],
                           now: datetime) -> None:
    if not any(r.reason == ReviewReason.REFUND_REJECTED
               for r in repository.open_reviews(session, bet.id)):
        repository.open_review_item(session, bet.id, ReviewReason.REFUND_REJECTED, detail, now=now)
