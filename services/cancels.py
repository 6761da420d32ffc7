"""The game server reports that the provider cancelled a bet itself (its rollback).

Providers roll a round back on their own (a round they could not finish, a bet they
resolved themselves) and tell the platform, whose game server reports it here. That is
the provider's own "cancelled", the proof that nothing will settle the bet: a pending
bet is refunded (under its one key: when the provider's rollback paid the stake back
already, the wallet says so and the bet ends refunded, paid by the provider); a bet in
review takes it as a final fact (``betguard.services.review_facts``); a settled bet gets a
conflict review, and no money moves.
"""

from __future__ import annotations

from enum import StrEnum

from betguard.models.domain import transitions
from betguard.models.domain.errors import IllegalTransition
from betguard.models.domain.events import EventKind
from betguard.models.domain.states import BetState
from betguard.models.domain.transitions import NewEvent
from betguard.models.store import repository
from betguard.providers.base import ProviderStatus
from betguard.services.context import Context
from betguard.services.late_facts import Fact, note_late_fact
from betguard.services.outcomes import CAS_ATTEMPTS, note_fact, wake_decided
from betguard.services.review_facts import Taken

WHY = "the game server reported the provider's own cancel (rollback)"


class CancelOutcome(StrEnum):
    REFUNDING = "refunding"  # pending or in review: its refund is under way now
    ALREADY_REFUNDED = "already_refunded"  # refund_pending or refunded before this report
    CONFLICT = "conflict"  # the bet was settled: a conflict review is open, no money moved
    NOTED_FOR_REVIEW = "noted_for_review"  # attached to the bet's review: a person decides


def report_cancel(ctx: Context, provider: str, bet_ref: str, *,
                  actor: str = "game-server") -> CancelOutcome:
    """Take the provider's own cancel of a bet, as the game server saw it."""
    fact = Fact(actor, ProviderStatus.CANCELLED)
    reported = NewEvent(EventKind.RESULT_REPORTED, actor, fact.as_detail())
    for _ in range(CAS_ATTEMPTS):
        now = ctx.clock()
        with ctx.db.unit_of_work() as session:
            bet = repository.get_by_ref(session, provider, bet_ref)
            if bet.state in (BetState.REFUND_PENDING, BetState.REFUNDED):
                return CancelOutcome.ALREADY_REFUNDED
            if bet.state is BetState.PENDING:
                change = transitions.decide_refund(bet, actor=actor, why=WHY, now=now)
                if not repository.apply(session, bet, change.preceded_by([reported]), now=now):
                    continue  # a check claimed the bet meanwhile: read it again
                outcome = CancelOutcome.REFUNDING
            elif bet.state is BetState.IN_REVIEW:
                taken = note_fact(session, bet, fact, events=[reported], now=now)
                if taken is Taken.CHANGED:
                    continue
                outcome = (CancelOutcome.REFUNDING if taken is Taken.CLOSED
                           else CancelOutcome.NOTED_FOR_REVIEW)
            else:
                note_late_fact(session, bet, fact, events=[reported], now=now)
                outcome = CancelOutcome.CONFLICT
            session.commit()
        if outcome is CancelOutcome.REFUNDING:
            wake_decided(ctx, bet.id)
        return outcome
    raise IllegalTransition(f"bet {provider}/{bet_ref} kept changing; report the cancel again")
