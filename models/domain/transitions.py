"""Transitions as verbs on a bet: each refuses an illegal start state and
describes one compare-and-set change together with its audit event.

They compute; they do not write. ``betguard.models.store.repository.apply`` (or
``betguard.models.store.bulk`` for many bets) performs the change. They are the one place a
bet's state, and what goes with it (payout, final time, next check or lease), is
decided: nothing else builds a ``Change`` or updates a bet.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from betguard.models.domain.errors import IllegalTransition
from betguard.models.domain.events import EventKind, ReviewReason
from betguard.models.domain.outbox import NotificationKind
from betguard.models.domain.snapshot import BetSnapshot
from betguard.models.domain.states import BetState, ensure_transition


@dataclass(frozen=True)
class NewEvent:
    kind: EventKind
    actor: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NewReview:
    reason: ReviewReason
    detail: dict[str, Any]


@dataclass(frozen=True)
class Change:
    """One compare-and-set: from the bet's state (and version) to ``values``."""

    expect_state: BetState
    values: dict[str, Any]
    events: tuple[NewEvent, ...]
    review: NewReview | None = None
    notify: NotificationKind | None = None  # the game server hears of this change

    @property
    def target_state(self) -> BetState:
        return BetState(self.values.get("state", self.expect_state))

    def preceded_by(self, events: Iterable[NewEvent]) -> Change:
        """The same change, its audit events after ``events`` (what was found, or
        reported, before it was decided)."""
        return replace(self, events=(*events, *self.events))


@dataclass(frozen=True)
class Lease:
    """A sweep's hold on many bets at once, as one conditional UPDATE: each bet still in
    ``state`` whose next check was due by ``due_by`` takes ``values`` (its next check
    becomes the lease's end) and the event ``event(attempt)``. Neither the state nor the
    version changes: a check or refund that holds the bet by its attempt still wins."""

    state: BetState
    due_by: datetime
    values: dict[str, Any]
    kind: EventKind
    actor: str = "sweep"

    def event(self, attempt: int) -> NewEvent:
        return NewEvent(self.kind, self.actor, {"attempt": attempt})


# What a sweep sends again, by the state of the bets it takes.
_SWEPT = {BetState.PENDING: EventKind.CHECK_DISPATCHED_BY_SWEEP,
          BetState.REFUND_PENDING: EventKind.REFUND_DISPATCHED_BY_SWEEP}


def place(*, first_check_at: datetime) -> dict[str, Any]:
    """A new bet's lifecycle columns: pending, no result yet, its first check due at
    ``first_check_at``. Its birth rather than a change: intake inserts them with the
    bet's own facts (reference, player, stake, times)."""
    return {"state": BetState.PENDING.value, "payout": None, "next_check_at": first_check_at,
            "check_attempt": 1, "version": 1, "final_at": None}


def settle(bet: BetSnapshot, *, payout: Decimal, actor: str, why: str, now: datetime) -> Change:
    if bet.state is BetState.REFUND_PENDING:
        # The refund may be paid or on its way: only settle_instead_of_refund, which
        # knows the wallet refused it, may settle such a bet.
        raise IllegalTransition(f"bet {bet.label} has a refund decided: it is not settled so")
    ensure_transition(bet.state, BetState.SETTLED)
    detail = {"payout": str(payout), "currency": bet.currency, "why": why}
    return Change(
        bet.state,
        {"state": BetState.SETTLED, "payout": payout, "final_at": now, "next_check_at": None},
        (NewEvent(EventKind.BET_SETTLED, actor, detail),),
        notify=NotificationKind.BET_SETTLED,
    )


def decide_refund(bet: BetSnapshot, *, actor: str, why: str, now: datetime) -> Change:
    ensure_transition(bet.state, BetState.REFUND_PENDING)
    return Change(
        bet.state,
        {"state": BetState.REFUND_PENDING, "next_check_at": now},
        (NewEvent(EventKind.REFUND_DECIDED, actor, {"why": why, "amount": str(bet.stake)}),),
    )


def confirm_refund(bet: BetSnapshot, *, refund_id: str, key: str, paid_by: str,
                   now: datetime) -> Change:
    """The wallet confirmed the refund. ``paid_by`` says who paid the stake back:
    betguard's refund, or the one before it (the provider's own rollback)."""
    ensure_transition(bet.state, BetState.REFUNDED)
    detail = {"refund_id": refund_id, "idempotency_key": key, "amount": str(bet.stake),
              "paid_by": paid_by}
    return Change(
        bet.state,
        {"state": BetState.REFUNDED, "final_at": now, "next_check_at": None},
        (NewEvent(EventKind.BET_REFUNDED, "wallet", detail),),
        notify=NotificationKind.BET_REFUNDED,
    )


def open_review(
    bet: BetSnapshot, *, reason: ReviewReason, why: str, actor: str, detail: dict[str, Any]
) -> Change:
    ensure_transition(bet.state, BetState.IN_REVIEW)
    return Change(
        bet.state,
        {"state": BetState.IN_REVIEW, "next_check_at": None},
        (NewEvent(EventKind.REVIEW_OPENED, actor, {"reason": reason.value, "why": why, **detail}),),
        NewReview(reason, {"why": why, **detail}),
    )


def order_recheck(
    bet: BetSnapshot, *, deadline: datetime, operator: str, note: str, now: datetime
) -> Change:
    ensure_transition(bet.state, BetState.PENDING)
    # The claim of the check that ended in review already moved check_attempt to the
    # next, never-used number: the re-check takes that one.
    detail = {"deadline": deadline.isoformat(), "note": note, "attempt": bet.check_attempt}
    return Change(
        bet.state,
        {"state": BetState.PENDING, "deadline": deadline, "next_check_at": now},
        (NewEvent(EventKind.RECHECK_ORDERED, operator, detail),),
    )


def check_now(bet: BetSnapshot, *, operator: str, now: datetime) -> Change:
    """An operator has a pending bet checked now instead of at its next scheduled time."""
    if bet.state is not BetState.PENDING:
        raise IllegalTransition(f"bet {bet.label} is {bet.state.value}, not pending")
    return Change(bet.state, {"next_check_at": now},
                  (NewEvent(EventKind.RECHECK_ORDERED, operator, {"attempt": bet.check_attempt}),))


def check_in_flight(bet: BetSnapshot, latest_kind: str | None, now: datetime) -> bool:
    """Whether the bet's check is at the provider now: pending, claimed (its latest event
    is ``check_started``) and its lease not over. Another check would ask the provider
    again while the first one still waits for its answer."""
    return (bet.state is BetState.PENDING and bet.next_check_at is not None
            and bet.next_check_at > now and latest_kind == EventKind.CHECK_STARTED.value)


def check_by(bet: BetSnapshot, *, operator: str, at: datetime, job: int) -> Change:
    """A person's bulk re-check has a pending bet checked by ``at`` (its slot in a job
    paced at the provider's rate); a check already due sooner stays as it is."""
    if bet.state is not BetState.PENDING:
        raise IllegalTransition(f"bet {bet.label} is {bet.state.value}, not pending")
    due = at if bet.next_check_at is None else min(at, bet.next_check_at)
    return Change(bet.state, {"next_check_at": due},
                  (NewEvent(EventKind.RECHECK_ORDERED, operator,
                            {"attempt": bet.check_attempt, "bulk_job": job,
                             "at": due.isoformat()}),))


def wake_check(bet: BetSnapshot, *, found: NewEvent, now: datetime) -> Change:
    """A pending bet's check is woken now because of what ``found`` says (the feed shows
    it final): the check reads the result itself."""
    if bet.state is not BetState.PENDING:
        raise IllegalTransition(f"bet {bet.label} is {bet.state.value}, not pending")
    return Change(bet.state, {"next_check_at": now}, (found,))


def reschedule(
    bet: BetSnapshot, *, at: datetime, events: Sequence[NewEvent], why: str = ""
) -> Change:
    """Keep the bet pending and set its next check; ``events`` tell what the check found."""
    if bet.state is not BetState.PENDING:
        raise IllegalTransition(f"only a pending bet is checked again, not a {bet.state.value} one")
    detail = {"attempt": bet.check_attempt, "at": at.isoformat(), "why": why}
    return Change(
        bet.state,
        {"next_check_at": at},
        (*events, NewEvent(EventKind.CHECK_RESCHEDULED, "betguard", detail)),
    )


def settle_instead_of_refund(
    bet: BetSnapshot, *, payout: Decimal, operator: str, note: str, wallet_refused: bool,
    now: datetime,
) -> Change:
    """An operator settles a bet whose refund the wallet rejected, because the provider
    turned out to have a result. ``wallet_refused``: the wallet's last word on the refund
    was a rejection and no attempt started since, so it paid nothing: paying the result
    pays the player once."""
    _require_refused_refund(bet, wallet_refused)
    ensure_transition(bet.state, BetState.SETTLED)
    detail = {"payout": str(payout), "currency": bet.currency, "why": note,
              "instead_of_refund": True}
    return Change(
        bet.state,
        {"state": BetState.SETTLED, "payout": payout, "final_at": now, "next_check_at": None},
        (NewEvent(EventKind.BET_SETTLED, operator, detail),),
        notify=NotificationKind.BET_SETTLED,
    )


def refund_outside(
    bet: BetSnapshot, *, operator: str, reference: str, note: str, wallet_refused: bool,
    now: datetime,
) -> Change:
    """An operator records that the stake was paid back outside betguard (the wallet
    having rejected the refund): the bet is refunded without a wallet call."""
    _require_refused_refund(bet, wallet_refused)
    ensure_transition(bet.state, BetState.REFUNDED)
    detail = {"outside_betguard": True, "reference": reference, "note": note,
              "amount": str(bet.stake)}
    return Change(
        bet.state,
        {"state": BetState.REFUNDED, "final_at": now, "next_check_at": None},
        (NewEvent(EventKind.BET_REFUNDED, operator, detail),),
        notify=NotificationKind.BET_REFUNDED,
    )


def retry_refund_now(
    bet: BetSnapshot, *, operator: str, note: str, key: str, now: datetime
) -> Change:
    """An operator has the refund tried again now, under its one idempotency key."""
    _require_refund_pending(bet)
    detail = {"note": note, "idempotency_key": key}
    return Change(bet.state, {"next_check_at": now},
                  (NewEvent(EventKind.REFUND_RETRY_ORDERED, operator, detail),))


def retry_refund_later(bet: BetSnapshot, *, at: datetime, found: NewEvent) -> Change:
    """The refund stays decided and is tried again at ``at`` under the same key;
    ``found`` tells what the wallet answered (or that it did not)."""
    _require_refund_pending(bet)
    return Change(bet.state, {"next_check_at": at}, (found,))


def stop_refund_retries(bet: BetSnapshot, *, found: NewEvent, rejections: int) -> Change:
    """The wallet rejected the refund ``rejections`` times: no sweep tries it again
    (no next check); it waits for a person with its review open."""
    _require_refund_pending(bet)
    detail = {"rejections": rejections,
              "why": f"the wallet rejected the refund {rejections} times in a row"}
    return Change(bet.state, {"next_check_at": None},
                  (found, NewEvent(EventKind.REFUND_RETRIES_STOPPED, "betguard", detail)))


def lease_due(state: BetState, *, due_by: datetime, until: datetime) -> Lease:
    """A sweep holds the bets of ``state`` whose next check was due by ``due_by`` until
    ``until``, to send each again for the attempt it holds. Only bets with a next check
    are swept: pending ones (their check) and refund_pending ones (their refund)."""
    kind = _SWEPT.get(state)
    if kind is None:
        raise IllegalTransition(f"no sweep takes {state.value} bets: they wait for no check")
    return Lease(state, due_by, {"next_check_at": until}, kind)


def _require_refund_pending(bet: BetSnapshot) -> None:
    if bet.state is not BetState.REFUND_PENDING:
        raise IllegalTransition(f"bet {bet.label} is {bet.state.value}, not refund_pending")


def _require_refused_refund(bet: BetSnapshot, wallet_refused: bool) -> None:
    _require_refund_pending(bet)
    if not wallet_refused:
        raise IllegalTransition(
            f"bet {bet.label}: the wallet did not reject its refund (it may be paid or in "
            "flight); retry the refund, or wait for it")
