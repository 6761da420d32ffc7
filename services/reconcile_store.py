"""Storing what a reconciliation found, and acting on it.

Each difference is stored once with both sides' facts. A difference already open for
the same (provider, bet, kind) is not stored again, nor one a person or the automatic
check already decided on the very same facts: the hourly job must not flood anyone.

A new difference on a bet becomes a review item on it (reason ``reconciliation``,
with an audit event), except where it is safe to resolve it automatically: a bet
betguard still waits on (pending) that the feed shows final has its check woken now
(resolution ``auto_check``), and the normal check settles or refunds it from the
mirror; a bet in review takes the provider's agreeing final rows as a fact
(``betguard.services.review_facts``: resolution ``review_fact`` when that closes its
review). A bet never gets a second review for a difference: one that has an open
review already gets the difference attached to it. A difference without a bet
(``missing_here``) stays open here until ops close it (``betguard differences resolve``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from betguard.models.domain import transitions
from betguard.models.domain.errors import BetguardError, IllegalTransition
from betguard.models.domain.events import EventKind, ReviewReason
from betguard.models.domain.states import BetState
from betguard.models.domain.transitions import NewEvent
from betguard.models.store import reconciliation as stored
from betguard.models.store import repository
from betguard.models.store.db import Session
from betguard.models.store.tables import (
    ReconciliationDifference,
    ReconciliationRun,
    Review,
)
from betguard.providers.base import ProviderStatus
from betguard.services.context import Context
from betguard.services.late_facts import Fact
from betguard.services.operator_text import require_text
from betguard.services.reconcile_compare import FINAL_THERE, Difference, Kind, agrees
from betguard.services.review_facts import Taken, take_fact

ACTOR = "reconciliation"
AUTO_CHECK = "auto_check"  # a waiting bet's check woken: it reads the result itself
REVIEW_FACT = "review_fact"  # a bet in review took the provider's outcome: review closed
RESOLVED = "resolved"  # closed by an operator with a note
CAS_ATTEMPTS = 5  # reads of a bet that workers keep changing, before a person looks


class DifferenceNotFound(BetguardError):
    """Raised when no reconciliation difference has the given id."""


@dataclass(frozen=True)
class Found:
    """A difference as this run reports it: stored now (``new``) or known already."""

    id: int
    kind: str
    bet_ref: str
    bet_id: int | None
    why: str
    here: dict[str, Any]
    there: dict[str, Any]
    resolution: str | None
    new: bool

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "bet_ref": self.bet_ref,
                "bet_id": self.bet_id, "why": self.why, "here": self.here,
                "there": self.there, "resolution": self.resolution, "new": self.new}


@dataclass(frozen=True)
class Wake:
    """What to wake after the commit: the bet's check, or (``refund``) its refund."""

    bet_id: int
    attempt: int
    label: str
    refund: bool = False


def store(ctx: Context, session: Session, run: ReconciliationRun,
          differences: Sequence[Difference], now: datetime) -> tuple[list[Found], list[Wake]]:
    """Store each new difference and act on it, in the caller's transaction. Returns
    every difference as reported, and the checks to wake after the commit."""
    found: list[Found] = []
    wakes: list[Wake] = []
    for difference in differences:
        known = _known(session, run.provider, difference)
        if known is not None:
            found.append(_found(known, difference, new=False))
            continue
        row = ReconciliationDifference(
            run_id=run.id, provider=run.provider, bet_ref=difference.bet_ref,
            kind=difference.kind.value, bet_id=difference.bet_id,
            here=difference.here_facts(), there=difference.there_facts(), found_at=now)
        session.add(row)
        session.flush()
        wake = _act(session, row, difference, now)
        if wake is not None:
            wakes.append(wake)
        found.append(_found(row, difference, new=True))
    return found, wakes


def _known(session: Session, provider: str,
           difference: Difference) -> ReconciliationDifference | None:
    """The same difference already open, or already decided on the very same facts."""
    here, there = difference.here_facts(), difference.there_facts()
    for earlier in stored.differences_like(session, provider, difference.bet_ref,
                                           difference.kind.value):
        if earlier.resolved_at is None or (earlier.here == here and earlier.there == there):
            return earlier
    return None


def _found(row: ReconciliationDifference, difference: Difference, *, new: bool) -> Found:
    return Found(row.id, row.kind, row.bet_ref, row.bet_id, difference.why, row.here,
                 row.there, row.resolution, new)


def _act(session: Session, row: ReconciliationDifference, difference: Difference,
         now: datetime) -> Wake | None:
    if row.bet_id is None:
        return None  # nothing of ours to act on: ops close it here
    detail = {"difference_id": row.id, "kind": row.kind, "why": difference.why,
              "run_id": row.run_id, "there": row.there}
    event = NewEvent(EventKind.RECONCILIATION_DIFFERENCE, ACTOR, detail)
    final_there = any(r.status in FINAL_THERE for r in difference.there)
    if difference.kind is Kind.STATE_DIFFERS and final_there:
        wake = _resolve_by_its_check(session, row, difference, event, now)
        if row.resolution == AUTO_CHECK:
            return wake
        if _taken_by_its_review(session, row, difference, event, now):
            return _refund_to_wake(session, row.bet_id)
    reviews = repository.open_reviews(session, row.bet_id)
    repository.add_events(session, row.bet_id, [event], now=now)
    if reviews:  # one review per bet: the difference joins the one a person already has
        for review in reviews:
            known = review.detail.get("differences", [])
            review.detail = {**review.detail, "differences": [*known, row.id]}
        return None
    repository.open_review_item(session, row.bet_id, ReviewReason.RECONCILIATION,
                                {**detail, "here": row.here}, now=now)
    return None


def _taken_by_its_review(session: Session, row: ReconciliationDifference,
                         difference: Difference, event: NewEvent, now: datetime) -> bool:
    """A bet in review whose provider's rows agree on a final outcome takes it as a fact
    (``betguard.services.review_facts``); when that closes its review (True), the
    difference is answered too."""
    assert row.bet_id is not None  # noqa: S101 - _act's
    outcomes = {(r.status, r.payout, r.currency) for r in difference.there
                if r.status in FINAL_THERE}
    bet = repository.get(session, row.bet_id)
    if bet is None or bet.state is not BetState.IN_REVIEW or len(outcomes) != 1:
        return False
    ((status, payout, currency),) = outcomes
    fact = Fact(f"provider:{row.provider}", ProviderStatus(status), payout, currency)
    if take_fact(session, bet, fact, events=[event], now=now) is not Taken.CLOSED:
        return False
    _resolve(row, REVIEW_FACT, "betguard", "the provider's outcome closed the bet's review",
             now)
    return True


def _refund_to_wake(session: Session, bet_id: int) -> Wake | None:
    """The refund a fact just decided for the bet, to wake after the commit (None: it
    settled, and its notification is in the outbox)."""
    bet = repository.get(session, bet_id)
    if bet is None or bet.state is not BetState.REFUND_PENDING:
        return None
    return Wake(bet.id, bet.check_attempt, bet.label, refund=True)


def _resolve_by_its_check(session: Session, row: ReconciliationDifference,
                          difference: Difference, event: NewEvent, now: datetime) -> Wake | None:
    """Resolve the difference of a bet still pending by its own check: wake it (the
    returned Wake), or leave the check already in flight to answer. The difference stays
    open when the bet is no longer pending, unless its check decided it meanwhile as the
    provider has it.

    Workers go on checking the bet while the difference is stored (and read the feed this
    run just pulled): the bet is read again when one changed it first (as the game
    server's result report does), never sent to a person for that race.
    """
    assert row.bet_id is not None and difference.here is not None  # noqa: S101 - _act's
    for _ in range(CAS_ATTEMPTS):
        bet = repository.get(session, row.bet_id)
        assert bet is not None  # noqa: S101 - the difference was built from this bet
        if bet.state is not BetState.PENDING:
            as_now = dataclasses.replace(difference.here, state=bet.state.value,
                                         payout=bet.payout)
            if agrees(as_now, difference.there):
                _answered_by_its_check(session, row, event, "its check decided it meanwhile, "
                                       "as the provider has it", now)
            return None
        if _check_in_flight(session, bet.next_check_at, bet.id, now):
            _answered_by_its_check(session, row, event,
                                   "a check was in flight: its answer comes", now)
            return None
        change = transitions.wake_check(bet, found=event, now=now)
        if repository.apply(session, bet, change, now=now):
            _resolve(row, AUTO_CHECK, "betguard", "the bet's check was woken now", now)
            return Wake(bet.id, bet.check_attempt, bet.label)
    return None  # it kept changing under us: a person looks


def _answered_by_its_check(session: Session, row: ReconciliationDifference, event: NewEvent,
                           note: str, now: datetime) -> None:
    assert row.bet_id is not None  # noqa: S101 - the caller checked
    repository.add_events(session, row.bet_id, [event], now=now)
    _resolve(row, AUTO_CHECK, "betguard", note, now)


def _check_in_flight(session: Session, next_check_at: datetime | None, bet_id: int,
                     now: datetime) -> bool:
    if next_check_at is None or next_check_at <= now:
        return False
    return repository.latest_kinds(session, bet_id) == [EventKind.CHECK_STARTED.value]


def _resolve(row: ReconciliationDifference, resolution: str, operator: str, note: str,
             now: datetime) -> None:
    row.resolved_at = now
    row.resolution = resolution
    row.operator = operator
    row.note = note


def resolve_difference(ctx: Context, difference_id: int, *, operator: str,
                       note: str) -> ReconciliationDifference:
    """An operator closes a difference with a note, and the review item it opened on its
    bet, if still open."""
    require_text(operator, "operator")
    require_text(note, "note")
    now = ctx.clock()
    with ctx.db.unit_of_work() as session:
        row = session.get(ReconciliationDifference, difference_id)
        if row is None:
            raise DifferenceNotFound(f"no reconciliation difference {difference_id}")
        if row.resolved_at is not None:
            raise IllegalTransition(
                f"difference {difference_id} was resolved already at "
                f"{row.resolved_at.isoformat(timespec='seconds')} ({row.resolution})")
        _resolve(row, RESOLVED, operator, note, now)
        if row.bet_id is not None:
            _close_reviews_of(session, row, operator, note, now)
        session.commit()
        session.refresh(row)
        session.expunge(row)
    return row


def _close_reviews_of(session: Session, row: ReconciliationDifference, operator: str,
                      note: str, now: datetime) -> None:
    assert row.bet_id is not None  # noqa: S101 - the caller checked
    reviews = [review for review in repository.open_reviews(session, row.bet_id)
               if review.reason == ReviewReason.RECONCILIATION.value
               and review.detail.get("difference_id") == row.id]
    for review in reviews:
        review.resolved_at = now
        review.resolution = RESOLVED
        review.operator = operator
        review.note = note
    if reviews:
        detail = {"resolution": RESOLVED, "note": note, "reviews": [r.id for r in reviews],
                  "difference_id": row.id}
        event = NewEvent(EventKind.REVIEW_RESOLVED, f"operator:{operator}", detail)
        repository.add_events(session, row.bet_id, [event], now=now)


def close_differences_of_reviews(session: Session, reviews: Sequence[Review], *,
                                 resolution: str, operator: str, note: str,
                                 now: datetime) -> None:
    """Close the differences whose reconciliation reviews were just resolved (in the
    caller's transaction): the person's decision on the bet answers them too."""
    ids = [review.detail.get("difference_id") for review in reviews
           if review.reason == ReviewReason.RECONCILIATION.value]
    ids += [i for review in reviews for i in review.detail.get("differences", [])]
    wanted = [i for i in ids if isinstance(i, int)]
    if not wanted:
        return
    stored.close_differences(session, wanted, resolution=resolution, operator=operator,
                             note=note, now=now)
