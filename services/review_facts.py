"""Final facts that reach a bet a person holds: recorded, and never a second payment.

A bet in review has no next check, so a fact that arrives for it then (a feed row, a
reconciliation, a late answer or result, the game server's report) is taken here:

- it **closes the review** with its outcome when that is unambiguous: every open review
  of the bet waited only for what the provider would say (the deadline passed, the
  check kept failing, or reconciliation found the bet missing from the provider's
  history), the fact is final (a result in the bet's currency, or the
  provider's own cancel) and no fact attached earlier disagrees. A result settles the
  bet; the provider's cancel becomes the refund it is, under the bet's one refund key
  (docs/design.md, "Competing refunds": the wallet pays each bet's stake once, so when
  the provider's rollback reached it first the refund ends "paid by the provider");
- otherwise it is **attached** to the open reviews, and no resolution that would move
  money against it is accepted (``money_refusal``): settling a bet the provider
  cancelled, refunding (or settling with another payout) a bet the provider settled.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from betguard.models.domain import transitions
from betguard.models.domain.answers import BetStatus
from betguard.models.domain.events import EventKind, Resolution, ReviewReason
from betguard.models.domain.snapshot import BetSnapshot
from betguard.models.domain.states import BetState
from betguard.models.domain.transitions import Change, NewEvent
from betguard.models.store import mirror, repository
from betguard.models.store.db import Session
from betguard.models.store.tables import Review
from betguard.providers.base import ProviderStatus
from betguard.services.late_facts import Fact

# Reviews opened only because the provider's word was missing: its final word closes them.
WAITING_FOR_THE_PROVIDER = frozenset({ReviewReason.DEADLINE.value,
                                      ReviewReason.CHECK_FAILING.value})
# A reconciliation difference that is only the provider's silence about the bet (its
# history lacked it): the provider's own final word about the bet answers it too.
SILENT_DIFFERENCE = "missing_there"


def waits_for_the_provider(review: Review) -> bool:
    """Whether the review was opened only for want of the provider's word."""
    if review.reason in WAITING_FOR_THE_PROVIDER:
        return True
    return (review.reason == ReviewReason.RECONCILIATION.value
            and (review.detail or {}).get("kind") == SILENT_DIFFERENCE)
FINAL = mirror.FINAL  # the outcomes a fact can bring: settled, or cancelled


class Taken(StrEnum):
    CLOSED = "closed"  # the fact decided the bet: its reviews are closed
    ATTACHED = "attached"  # recorded on the open reviews: a person decides with it
    CHANGED = "changed"  # the bet changed meanwhile: nothing written, read it again


def take_fact(session: Session, bet: BetSnapshot, fact: Fact, *, events: Sequence[NewEvent],
              now: datetime) -> Taken:
    """Take a final ``fact`` about a bet in review, in the caller's transaction, with the
    ``events`` that tell how it arrived."""
    assert bet.state is BetState.IN_REVIEW and fact.status in FINAL  # noqa: S101 - callers'
    reviews = repository.open_reviews(session, bet.id)
    change = _closing_change(bet, fact, reviews, now)
    if change is not None:
        if not repository.apply(session, bet, change.preceded_by(list(events)), now=now):
            return Taken.CHANGED
        _close(session, bet, reviews, fact, now)
        return Taken.CLOSED
    _attach(session, bet, reviews, fact, events, now)
    return Taken.ATTACHED


def _closing_change(bet: BetSnapshot, fact: Fact, reviews: Sequence[Review],
                    now: datetime) -> Change | None:
    if not reviews or not all(waits_for_the_provider(r) for r in reviews):
        return None
    if any(_disagree(fact, earlier) for earlier in attached_facts(reviews)):
        return None
    why = f"{fact.source} says the bet is {fact.status.value}: the review waited for that"
    if fact.status is ProviderStatus.CANCELLED:
        return transitions.decide_refund(bet, actor=fact.source, why=why, now=now)
    if fact.payout is None or fact.currency != bet.currency:
        return None
    return transitions.settle(bet, payout=fact.payout, actor=fact.source, why=why, now=now)


def _disagree(one: Fact, other: Fact) -> bool:
    return (one.status, one.payout, one.currency) != (other.status, other.payout,
                                                      other.currency)


def _close(session: Session, bet: BetSnapshot, reviews: Sequence[Review], fact: Fact,
           now: datetime) -> None:
    resolution = (Resolution.REFUNDED if fact.status is ProviderStatus.CANCELLED
                  else Resolution.SETTLED)
    note = f"closed by {fact.source}'s own outcome: {fact.status.value}"
    for review in reviews:
        review.resolved_at = now
        review.resolution = resolution.value
        review.operator = fact.source
        review.note = note
    detail = {"resolution": resolution.value, "note": note, "reviews": [r.id for r in reviews],
              "fact": fact.as_detail()}
    repository.add_events(session, bet.id,
                          [NewEvent(EventKind.REVIEW_RESOLVED, fact.source, detail)], now=now)


def _attach(session: Session, bet: BetSnapshot, reviews: Sequence[Review], fact: Fact,
            events: Sequence[NewEvent], now: datetime) -> None:
    entry = {**fact.as_detail(), "at": now.isoformat()}
    for review in reviews:
        if fact not in attached_facts([review]):
            known = review.detail.get("facts", [])
            review.detail = {**review.detail, "facts": [*known, entry]}  # a new dict: saved
    detail = {"reviews": [r.id for r in reviews], **fact.as_detail()}
    repository.add_events(session, bet.id,
                          [*events, NewEvent(EventKind.REVIEW_FACT_ATTACHED, "betguard", detail)],
                          now=now)


def attached_facts(reviews: Iterable[Review]) -> list[Fact]:
    """The final facts attached to these reviews."""
    facts = []
    for review in reviews:
        for entry in review.detail.get("facts", []):
            fact = _fact_of(entry)
            if fact is not None:
                facts.append(fact)
    return facts


def _fact_of(entry: object) -> Fact | None:
    if not isinstance(entry, dict):
        return None
    try:
        status = ProviderStatus(str(entry.get("status")))
        payout = entry.get("payout")
        return Fact(str(entry.get("source")), status,
                    None if payout is None else Decimal(str(payout)), entry.get("currency"))
    except (ValueError, ArithmeticError):
        return None


def mirrored_fact(session: Session, bet: BetSnapshot) -> tuple[Fact, BetStatus] | None:
    """The provider's final outcome of the bet as the mirror of its history holds it now,
    with the mirror's answer (None: no final row, or rows that disagree)."""
    answer = mirror.bet_answer_now(session.connection(), bet)
    if answer.status not in FINAL:
        return None
    return Fact(f"provider:{bet.provider}", answer.status, answer.payout, answer.currency), answer


def facts_about(session: Session, bet: BetSnapshot, reviews: Sequence[Review]) -> list[Fact]:
    """Every final fact a resolution must respect: those attached to the open reviews,
    and the provider's history as the mirror holds it now (a feed row that arrived while
    no one took it, say)."""
    mirrored = mirrored_fact(session, bet)
    return attached_facts(reviews) + ([mirrored[0]] if mirrored else [])


def money_refusal(bet: BetSnapshot, resolution: Resolution, payout: Decimal | None,
                  facts: Iterable[Fact]) -> str | None:
    """Why the resolution would move money a second time against one of ``facts``
    (None: it would not)."""
    for fact in facts:
        said = f"{fact.source} says the bet is {fact.status.value}"
        if fact.status is ProviderStatus.CANCELLED and resolution is Resolution.SETTLED:
            return (f"bet {bet.label}: {said}, and its stake goes back to the player: settling "
                    "it would pay it a second time; refund it (the wallet pays a bet's stake "
                    "once) or re-check it")
        if fact.status is not ProviderStatus.SETTLED:
            continue
        paid = f"{fact.payout} {fact.currency or ''}".rstrip()
        if resolution in (Resolution.REFUNDED, Resolution.REFUNDED_OUTSIDE):
            return (f"bet {bet.label}: {said} with payout {paid}: a refund would pay its stake "
                    "back on top; settle it with that payout or re-check it")
        if resolution is Resolution.SETTLED and payout is not None and payout != fact.payout:
            return (f"bet {bet.label}: {said} with payout {paid}, not {payout}; settle it with "
                    "the provider's payout or re-check it")
    return None
