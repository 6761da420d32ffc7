"""The check: ask the provider about one unreturned bet, then settle, reschedule or escalate.

A check is claimed by its attempt number before any HTTP call, so a duplicate or
stale delivery does nothing; no transaction is open while the provider is asked.
"""

from __future__ import annotations

import dataclasses
import time
from datetime import datetime, timedelta
from enum import StrEnum

from models import repository, schedule, transitions
from models.escalation import Action, Decision, decide_after_cancel, decide_after_check
from models.events import EventKind, ReviewReason
from models.snapshot import BetSnapshot
from models.transitions import Change, NewEvent
from providers.base import BetStatus, CancelOutcome, Provider
from providers.errors import ProviderError
from services.context import Context
from services.facts import Fact, note_late_fact


class CheckOutcome(StrEnum):
    STALE = "stale"  # duplicate or outdated delivery: nothing done
    SETTLED = "settled"
    REFUND = "refund"
    REVIEW = "review"
    RESCHEDULED = "rescheduled"
    SUPERSEDED = "superseded"  # the bet changed while the provider was asked


def run_check(ctx: Context, bet_id: int, attempt: int) -> CheckOutcome:
    bet = _claim(ctx, bet_id, attempt)
    if bet is None:
        return CheckOutcome.STALE
    provider = ctx.providers[bet.provider]
    policy = ctx.policy(bet.provider)
    answer, events = ask_status(provider, bet, attempt)
    decision = decide_after_check(
        policy, stake=bet.stake, currency=bet.currency, answer=answer,
        now=ctx.clock(), deadline=bet.deadline,
    )
    if decision.action is Action.CANCEL:
        outcome, cancel_events = ask_cancel(provider, bet)
        events += cancel_events
        decision = decide_after_cancel(outcome, currency=bet.currency)
        answer = outcome.status if outcome else answer
    return _conclude(ctx, bet, decision, answer, events)


def _claim(ctx: Context, bet_id: int, attempt: int) -> BetSnapshot | None:
    now = ctx.clock()
    lease_until = now + timedelta(seconds=ctx.timing.check_lease)
    with ctx.db.unit_of_work() as session:
        if not repository.claim_check(session, bet_id, attempt, lease_until=lease_until, now=now):
            repository.count_duplicate_delivery(session, bet_id)
            session.commit()
            return None
        started = NewEvent(EventKind.CHECK_STARTED, "betguard", {"attempt": attempt})
        repository.add_events(session, bet_id, [started], now=now)
        bet = repository.get(session, bet_id)
        session.commit()
    return bet


def ask_status(
    provider: Provider, bet: BetSnapshot, attempt: int
) -> tuple[BetStatus | None, list[NewEvent]]:
    """Ask for the bet's status; an error is recorded and handled like an outage."""
    actor = f"provider:{bet.provider}"
    started = time.perf_counter()
    try:
        answer = provider.get_status(bet.bet_ref)
    except ProviderError as exc:
        return None, [NewEvent(EventKind.PROVIDER_ERROR, actor, _error_detail(exc, attempt))]
    elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
    detail = {"attempt": attempt, **answer.as_detail(), "elapsed_ms": elapsed_ms}
    return answer, [NewEvent(EventKind.PROVIDER_ANSWERED, actor, detail)]


def ask_cancel(provider: Provider, bet: BetSnapshot) -> tuple[CancelOutcome | None, list[NewEvent]]:
    actor = f"provider:{bet.provider}"
    try:
        outcome = provider.cancel(bet.bet_ref)
    except ProviderError as exc:
        return None, [NewEvent(EventKind.CANCEL_FAILED, actor, _error_detail(exc, None))]
    detail = {"accepted": outcome.accepted, **outcome.status.as_detail()}
    return outcome, [NewEvent(EventKind.CANCEL_ANSWERED, actor, detail)]


def _error_detail(exc: ProviderError, attempt: int | None) -> dict[str, object]:
    return {"attempt": attempt, "error": type(exc).__name__, "message": str(exc)[:500]}


def _conclude(
    ctx: Context, bet: BetSnapshot, decision: Decision, answer: BetStatus | None,
    events: list[NewEvent],
) -> CheckOutcome:
    now = ctx.clock()
    change = _change_for(ctx, bet, decision, answer, now)
    change = dataclasses.replace(change, events=[*events, *change.events])
    with ctx.db.unit_of_work() as session:
        applied = repository.apply(session, bet, change, now=now)
        if not applied:
            current = repository.get(session, bet.id)
            if current is not None and answer is not None:
                fact = Fact(
                    f"provider:{bet.provider}", answer.status, answer.payout, answer.currency
                )
                note_late_fact(session, current, fact, events=events, now=now)
            elif current is not None:
                repository.add_events(session, bet.id, events, now=now)
        session.commit()
    if not applied:
        return CheckOutcome.SUPERSEDED
    return _wake_next(ctx, bet, decision, change)


def _change_for(
    ctx: Context, bet: BetSnapshot, decision: Decision, answer: BetStatus | None, now: datetime
) -> Change:
    actor = f"provider:{bet.provider}"
    if decision.action is Action.SETTLE and answer is not None and answer.payout is not None:
        return transitions.settle(bet, payout=answer.payout, actor=actor, why=decision.reason,
                                  now=now)
    if decision.action is Action.REFUND:
        return transitions.decide_refund(bet, actor="betguard", why=decision.reason, now=now)
    if decision.action is Action.RESCHEDULE:
        completed = bet.check_attempt - 1
        at = schedule.next_check_at(ctx.policy(bet.provider), completed, now, bet.deadline,
                                    ctx.draw)
        return transitions.reschedule(bet, at=at, events=[], why=decision.reason)
    detail = {"answer": answer.as_detail() if answer else None}
    return transitions.open_review(
        bet, reason=decision.review_reason or ReviewReason.AMBIGUOUS, why=decision.reason,
        actor="betguard", detail=detail,
    )


def _wake_next(ctx: Context, bet: BetSnapshot, decision: Decision, change: Change) -> CheckOutcome:
    if decision.action is Action.RESCHEDULE:
        ctx.scheduler.check(bet.id, bet.check_attempt, change.values["next_check_at"],
                            label=bet.label)
        return CheckOutcome.RESCHEDULED
    if decision.action is Action.REFUND:
        ctx.scheduler.refund(bet.id, change.values["next_check_at"], label=bet.label)
        return CheckOutcome.REFUND
    if decision.action is Action.SETTLE:
        return CheckOutcome.SETTLED
    return CheckOutcome.REVIEW
