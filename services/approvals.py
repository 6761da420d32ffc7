"""Four eyes (docs/console.md): a person's settle or refund that puts more than the
provider's ``four_eyes_above`` at stake is proposed by one account and approved by
another, with the approver role, before any money moves.

The same rule holds from the console, the API and the CLI: ``decide`` is the one way in
for a person's decision, and ``resolve_review`` itself refuses such a decision without an
approval. Approving runs the decision and takes the proposal by compare-and-set in one
transaction, so two approvers at once cannot both move the money; a proposal whose bet
moved on meanwhile becomes void, with the reason; one not approved in time expires. An
approval applies the decision to the bet exactly as it was when proposed (its version):
if anything changed since, the proposal is void and is made again on what is there now.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from betguard.models.domain.access import Actor, Role, approval_refusal
from betguard.models.domain.errors import BetNotFound, IllegalTransition
from betguard.models.domain.events import Resolution
from betguard.models.domain.snapshot import BetSnapshot
from betguard.models.store import proposals, repository
from betguard.models.store.tables import Proposal
from betguard.services.context import Context
from betguard.services.operator_text import require_text
from betguard.services.reviews import (
    Approval,
    Resolve,
    check_resolution,
    four_eyes,
    resolve_review,
)

DEFAULT_LIFETIME = timedelta(hours=24)


@dataclass(frozen=True)
class Proposed:
    """A decision waiting for a second person."""

    proposal_id: int
    label: str
    resolution: Resolution
    amount: Decimal
    currency: str
    expires_at: datetime

    @property
    def message(self) -> str:
        return (f"{self.label}: {self.resolution.value} puts {self.amount} {self.currency} "
                f"at stake; proposal #{self.proposal_id} waits for an approver (expires "
                f"{self.expires_at.isoformat(timespec='seconds')})")


@dataclass(frozen=True)
class ProposalView:
    """A proposal as lists and pages show it, its expiry already applied."""

    id: int
    provider: str
    bet_ref: str
    resolution: str
    amount: Decimal
    note: str
    payout: str | None
    reference: str | None
    proposed_by: str
    proposed_at: datetime
    expires_at: datetime
    state: str
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str | None
    bet_id: int
    deadline: datetime | None  # a re-check's new deadline
    version: int | None  # the bet's version it was proposed on

    @classmethod
    def of(cls, row: Proposal, provider: str, bet_ref: str, now: datetime) -> ProposalView:
        state = "expired" if row.state == proposals.OPEN and row.expires_at <= now \
            else row.state
        deadline = row.detail.get("deadline")
        return cls(row.id, provider, bet_ref, row.resolution, row.amount,
                   str(row.detail.get("note", "")), row.detail.get("payout"),
                   row.detail.get("reference"), row.proposed_by, row.proposed_at,
                   row.expires_at, state, row.decided_by, row.decided_at, row.decision_note,
                   row.bet_id, datetime.fromisoformat(deadline) if deadline else None,
                   row.detail.get("version"))

    @property
    def label(self) -> str:
        return f"{self.provider}/{self.bet_ref}"


def decide(ctx: Context, command: Resolve, actor: Actor, *,
           lifetime: timedelta = DEFAULT_LIFETIME) -> BetSnapshot | Proposed:
    """A person's decision on a review: applied at once, or proposed when it needs a
    second person."""
    actor.require(Role.OPERATOR, "decide a review")
    with ctx.db.unit_of_work() as session:
        bet = repository.get_by_ref(session, command.provider, command.bet_ref)
    if four_eyes(ctx, bet, command) is None:
        return resolve_review(ctx, command)
    return propose(ctx, command, actor, lifetime=lifetime)


def propose(ctx: Context, command: Resolve, actor: Actor, *,
            lifetime: timedelta = DEFAULT_LIFETIME) -> Proposed:
    """Record the decision for a second person, once the bet's state allows it now."""
    actor.require(Role.OPERATOR, "propose a decision")
    now = ctx.clock()
    with ctx.db.unit_of_work() as session:
        bet = check_resolution(ctx, session, command, now)
        amount = four_eyes(ctx, bet, command) or bet.stake
        detail = {"note": command.note, "payout": _text(command.payout),
                  "reference": command.reference,
                  "deadline": command.deadline.isoformat() if command.deadline else None,
                  "version": bet.version}
        row = proposals.add(session, bet_id=bet.id, label=bet.label, version=bet.version,
                            resolution=command.resolution.value, amount=amount,
                            detail=detail, proposed_by=actor.name, now=now,
                            expires_at=now + lifetime)
        session.commit()
        return Proposed(row.id, bet.label, command.resolution, amount, bet.currency,
                        row.expires_at)


def approve(ctx: Context, proposal_id: int, approver: Actor, note: str) -> BetSnapshot:
    """Run the proposed decision, recorded under its proposer and approved by
    ``approver``; refused (``IllegalTransition``) with the reason otherwise."""
    require_text(note, "note")
    view, command = _open_proposal(ctx, proposal_id)
    refusal = approval_refusal(proposer=view.proposed_by, approver=approver)
    if refusal is not None:
        raise IllegalTransition(f"proposal #{proposal_id}: {refusal}")
    try:
        return resolve_review(ctx, command,
                              Approval(proposal_id, approver.name, note, view.version))
    except (IllegalTransition, BetNotFound) as refused:
        if _void(ctx, proposal_id, approver.name, str(refused)):
            raise IllegalTransition(f"proposal #{proposal_id} is void: {refused}") from None
        now = find(ctx, proposal_id)  # someone else decided it first: say who
        raise IllegalTransition(f"proposal #{proposal_id} is already {now.state} by "
                                f"{now.decided_by}") from None


def reject(ctx: Context, proposal_id: int, actor: Actor, note: str) -> ProposalView:
    """Close a proposal without moving money; the proposer may withdraw their own."""
    require_text(note, "note")
    view, _ = _open_proposal(ctx, proposal_id)
    if view.proposed_by != actor.name and not actor.role.may(Role.APPROVER):
        raise IllegalTransition(f"proposal #{proposal_id}: {actor.name} is a "
                                f"{actor.role.value}: only an approver, or its proposer, "
                                "may reject it")
    now = ctx.clock()
    with ctx.db.unit_of_work() as session:
        if not proposals.decide(session, proposal_id, state="rejected", by=actor.name,
                                note=note, now=now):
            raise IllegalTransition(f"proposal #{proposal_id} was decided meanwhile")
        session.commit()
    return find(ctx, proposal_id)


def find(ctx: Context, proposal_id: int) -> ProposalView:
    with ctx.db.unit_of_work() as session:
        row = proposals.get(session, proposal_id)
        if row is None:
            raise BetNotFound(f"no proposal #{proposal_id}")
        bet = repository.get(session, row.bet_id)
        assert bet is not None  # noqa: S101 - a proposal's bet is never deleted
        return ProposalView.of(row, bet.provider, bet.bet_ref, ctx.clock())


def listing(ctx: Context, *, state: str | None = "open", limit: int = 200) -> list[ProposalView]:
    now = ctx.clock()
    with ctx.db.unit_of_work() as session:
        return [ProposalView.of(row, provider, ref, now)
                for row, provider, ref in proposals.listing(session, state=state, limit=limit)]


def of_bet(ctx: Context, bet_id: int) -> list[ProposalView]:
    now = ctx.clock()
    with ctx.db.unit_of_work() as session:
        bet = repository.get(session, bet_id)
        if bet is None:
            return []
        return [ProposalView.of(row, bet.provider, bet.bet_ref, now)
                for row in proposals.of_bet(session, bet_id)]


def _open_proposal(ctx: Context, proposal_id: int) -> tuple[ProposalView, Resolve]:
    view = find(ctx, proposal_id)
    if view.state == "expired":
        raise IllegalTransition(f"proposal #{proposal_id} expired at "
                                f"{view.expires_at.isoformat(timespec='seconds')}: propose "
                                "it again if it is still right")
    if view.state != proposals.OPEN:
        raise IllegalTransition(f"proposal #{proposal_id} is already {view.state} by "
                                f"{view.decided_by}")
    command = Resolve(view.provider, view.bet_ref, Resolution(view.resolution),
                      view.proposed_by, view.note, payout=view.payout,
                      deadline=view.deadline, reference=view.reference)
    return view, command


def _void(ctx: Context, proposal_id: int, by: str, why: str) -> bool:
    with ctx.db.unit_of_work() as session:
        done = proposals.decide(session, proposal_id, state="void", by=by, note=why,
                                now=ctx.clock())
        session.commit()
    return done


def _text(value: Decimal | str | None) -> str | None:
    return None if value is None else str(value)
