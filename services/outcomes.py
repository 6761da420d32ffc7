"""A provider's own outcome reaching a bet: the one door for every late final fact.

Whatever carries it (a feed row, a reconciliation, a late answer, the game server's
report), a final fact about a bet a person holds goes to ``review_facts.take_fact``, and
about any other decided bet to ``facts.note_late_fact``; after the commit, a refund the
fact decided is woken.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from betguard.models.domain.events import EventKind
from betguard.models.domain.snapshot import BetSnapshot
from betguard.models.domain.states import BetState
from betguard.models.domain.transitions import NewEvent
from betguard.models.store import repository
from betguard.models.store.db import Session
from betguard.services.context import Context
from betguard.services.late_facts import Fact, note_late_fact
from betguard.services.refund_wakeups import wake_refund
from betguard.services.review_facts import FINAL, Taken, mirrored_fact, take_fact

CAS_ATTEMPTS = 5


def note_fact(session: Session, bet: BetSnapshot, fact: Fact, *, events: Sequence[NewEvent],
              now: datetime) -> Taken | None:
    """Record a fact about a bet that is no longer pending, in the caller's transaction:
    a final one about a bet in review is taken by it (closing the review or attached to
    it); any other is noted (a conflict review when it contradicts a decided bet).
    Returns what the review did with it (None: the bet was not in review)."""
    if bet.state is BetState.IN_REVIEW and fact.status in FINAL:
        return take_fact(session, bet, fact, events=events, now=now)
    note_late_fact(session, bet, fact, events=list(events), now=now)
    return None


def wake_decided(ctx: Context, bet_id: int) -> None:
    """After commit: the refund a fact decided (a settled bet needs nothing: its
    notification is in the outbox)."""
    with ctx.db.unit_of_work() as session:
        bet = repository.get(session, bet_id)
    if bet is not None and bet.state is BetState.REFUND_PENDING and bet.next_check_at:
        wake_refund(ctx, bet, bet.next_check_at)


def take_mirrored_outcome(ctx: Context, bet_id: int) -> Taken | None:
    """Give a bet in review its provider's final row from the mirror, if it has one
    (rows that disagree are no fact: the review stays as it is)."""
    for _ in range(CAS_ATTEMPTS):
        now = ctx.clock()
        with ctx.db.unit_of_work() as session:
            bet = repository.get(session, bet_id)
            if bet is None or bet.state is not BetState.IN_REVIEW:
                return None
            mirrored = mirrored_fact(session, bet)
            if mirrored is None:
                return None
            fact, answer = mirrored
            seen = NewEvent(EventKind.PROVIDER_ANSWERED, f"provider:{bet.provider}",
                            {"attempt": None, **answer.as_detail()})
            taken = take_fact(session, bet, fact, events=[seen], now=now)
            if taken is Taken.CHANGED:
                continue
            session.commit()
        if taken is Taken.CLOSED:
            wake_decided(ctx, bet_id)
        return taken
    return None
