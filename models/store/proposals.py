"""Four-eyes proposals as named queries: add one, read them, and take one open proposal
to its decision by compare-and-set, so two approvers at once cannot both decide it."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from betguard.models.domain.errors import IllegalTransition
from betguard.models.store.tables import Bet, Proposal

OPEN = "open"


def add(session: Session, *, bet_id: int, label: str, version: int, resolution: str,
        amount: Decimal, detail: dict[str, Any], proposed_by: str, now: datetime,
        expires_at: datetime) -> Proposal:
    """A new open proposal; refused while the bet has another open one. One past its
    expiry is marked expired first, and one made on an earlier version of the bet void:
    it could no longer be approved."""
    waiting = open_for_bet(session, bet_id)
    if waiting is not None and waiting.expires_at <= now:
        waiting.state = "expired"
        session.flush()
        waiting = None
    if waiting is not None and waiting.detail.get("version") != version:
        waiting.state, waiting.decided_at = "void", now
        waiting.decision_note = "the bet changed since it was proposed"
        session.flush()
        waiting = None
    if waiting is not None:
        raise IllegalTransition(f"bet {label} already has an open proposal "
                                f"#{waiting.id} by {waiting.proposed_by}: approve or "
                                "reject it first")
    proposal = Proposal(bet_id=bet_id, resolution=resolution, amount=amount, detail=detail,
                        proposed_by=proposed_by, proposed_at=now, expires_at=expires_at,
                        state=OPEN, decided_by=None, decided_at=None, decision_note=None)
    try:
        with session.begin_nested():
            session.add(proposal)
    except IntegrityError:  # another proposal for the bet was committed meanwhile
        raise IllegalTransition(f"bet {label} already has an open proposal: "
                                "approve or reject it first") from None
    return proposal


def get(session: Session, proposal_id: int) -> Proposal | None:
    return session.get(Proposal, proposal_id)


def open_for_bet(session: Session, bet_id: int) -> Proposal | None:
    return session.scalars(select(Proposal).where(Proposal.bet_id == bet_id,
                                                  Proposal.state == OPEN)).one_or_none()


def count_waiting(session: Session, now: datetime) -> int:
    """Open proposals not past their expiry: those an approver can still approve."""
    return int(session.scalar(select(func.count()).select_from(Proposal).where(
        Proposal.state == OPEN, Proposal.expires_at > now)) or 0)


def of_bet(session: Session, bet_id: int) -> list[Proposal]:
    return list(session.scalars(select(Proposal).where(Proposal.bet_id == bet_id)
                                .order_by(Proposal.id)))


def listing(session: Session, *, state: str | None = OPEN,
            limit: int = 200) -> list[tuple[Proposal, str, str]]:
    """Proposals (open ones by default), oldest first, with their bet's provider and
    reference."""
    query = (select(Proposal, Bet.provider, Bet.bet_ref).join(Bet, Bet.id == Proposal.bet_id)
             .order_by(Proposal.id).limit(limit))
    if state is not None:
        query = query.where(Proposal.state == state)
    return [(row[0], row[1], row[2]) for row in session.execute(query)]


def decide(session: Session, proposal_id: int, *, state: str, by: str, note: str,
           now: datetime) -> bool:
    """Move an open proposal to ``state``; False, writing nothing, if it is no longer
    open (someone else decided it first)."""
    result = session.execute(
        update(Proposal).where(Proposal.id == proposal_id, Proposal.state == OPEN)
        .values(state=state, decided_by=by, decided_at=now, decision_note=note)
        .execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0) == 1


def void_open(session: Session, bet_id: int, *, by: str, why: str, now: datetime) -> int:
    """Void the bet's open proposal (its review was decided another way); how many."""
    result = session.execute(
        update(Proposal).where(Proposal.bet_id == bet_id, Proposal.state == OPEN)
        .values(state="void", decided_by=by, decided_at=now, decision_note=why)
        .execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)
