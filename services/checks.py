"""The check: ask the provider about one unreturned bet, then settle, reschedule or escalate.

A check is claimed by its attempt number before any HTTP call, so a duplicate or
stale delivery does nothing; no transaction is open while the provider is asked.
The steps after the answer (``decide``, ``conclude``) are shared with the batched
check of ``betguard.services.batch_checks``, which asks about many bets in one call.

A provider is asked only for what it can do (its ``capabilities``). For a provider
with a history feed the mirror (``betguard.models.store.mirror``, a database read: no provider call,
no bulkhead slot) is read first: a final row there is the answer. Otherwise a
provider with a status call is asked; one without (history only) has the mirror's
answer: pending for a running row, unknown when the feed has not shown the bet.
Either answer is recorded as ``provider_answered``; the mirror's says ``via`` "mirror".
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from betguard.models.domain import freshness, schedule
from betguard.models.domain.answers import BetStatus, CancelOutcome, Capability
from betguard.models.domain.decisions import change_for_decision
from betguard.models.domain.escalation import (
    Action,
    ConflictingAnswer,
    Decision,
    decide_after_cancel,
    decide_after_check,
    next_check_limit,
)
from betguard.models.domain.events import EventKind
from betguard.models.domain.rounds import answer_for_bet
from betguard.models.domain.snapshot import BetSnapshot
from betguard.models.domain.transitions import Change, NewEvent
from betguard.models.store import bulk, mirror, repository
from betguard.models.store.db import Session
from betguard.providers.base import Provider
from betguard.providers.errors import ProviderError
from betguard.services.context import Context
from betguard.services.late_facts import Fact
from betguard.services.outcomes import note_fact
from betguard.services.review_facts import Taken

log = logging.getLogger(__name__)


class CheckOutcome(StrEnum):
    STALE = "stale"  # duplicate or outdated delivery: nothing done
    SETTLED = "settled"
    REFUND = "refund"
    REVIEW = "review"
    RESCHEDULED = "rescheduled"
    SUPERSEDED = "superseded"  # the bet changed while the provider was asked


OUTCOMES = {Action.SETTLE: CheckOutcome.SETTLED, Action.REFUND: CheckOutcome.REFUND,
            Action.RESCHEDULE: CheckOutcome.RESCHEDULED, Action.REVIEW: CheckOutcome.REVIEW}


@dataclass(frozen=True)
class Verdict:
    """What one check concluded about one bet: the change to apply, whose events tell
    what the check found before the transition's own."""

    bet: BetSnapshot
    decision: Decision
    answer: BetStatus | None
    found: list[NewEvent]  # what the check learnt: answers, errors, cancel requests
    change: Change

    @property
    def outcome(self) -> CheckOutcome:
        return OUTCOMES.get(self.decision.action, CheckOutcome.REVIEW)


def run_check(ctx: Context, bet_id: int, attempt: int) -> CheckOutcome:
    bet = _claim(ctx, bet_id, attempt)
    if bet is None:
        return CheckOutcome.STALE
    provider = ctx.providers[bet.provider]
    answer, events = ask_status(ctx, provider, bet, attempt)
    verdict = decide(ctx, provider, bet, answer, events)
    if not conclude(ctx, [verdict])[0]:
        return CheckOutcome.SUPERSEDED
    wake_after(ctx, verdict)
    return verdict.outcome


def _claim(ctx: Context, bet_id: int, attempt: int) -> BetSnapshot | None:
    now = ctx.clock()
    lease_until = now + timedelta(seconds=ctx.timing.check_lease)

    def claim() -> BetSnapshot | None:
        with ctx.db.transaction() as connection:
            return repository.claim_check(connection, bet_id, attempt,
                                          lease_until=lease_until, now=now)

    def find_own_claim() -> BetSnapshot | None:
        with ctx.db.transaction() as connection:
            own = repository.own_claims(connection, [(bet_id, attempt)], lease_until=lease_until)
        return own[0] if own else None

    return ctx.db.retry(claim, recover=find_own_claim)


def ask_status(
    ctx: Context, provider: Provider, bet: BetSnapshot, attempt: int
) -> tuple[BetStatus | None, list[NewEvent]]:
    """The bet's status: from the mirror of the provider's history when it has one and
    the mirror decides (see the module's docstring), else from the provider; an error
    is recorded and handled like an outage."""
    if Capability.HISTORY in provider.capabilities:
        mirrored = read_mirror(ctx, bet)
        if mirror_decides(provider, mirrored):
            return mirrored, [mirror_event(bet, mirrored, attempt)]
    return ask_provider_status(provider, bet, attempt)


def ask_provider_status(
    provider: Provider, bet: BetSnapshot, attempt: int
) -> tuple[BetStatus | None, list[NewEvent]]:
    """Ask the provider about the bet, in one call; an error is recorded as no answer."""
    actor = f"provider:{bet.provider}"
    started = time.perf_counter()
    try:
        answer = answer_for_bet(provider.get_status(bet.round_ref, bet.player_id), bet)
    except ProviderError as exc:
        return None, [NewEvent(EventKind.PROVIDER_ERROR, actor, error_detail(exc, attempt))]
    elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
    detail = {"attempt": attempt, **answer.as_detail(), "elapsed_ms": elapsed_ms}
    return answer, [NewEvent(EventKind.PROVIDER_ANSWERED, actor, detail)]


def read_mirror(ctx: Context, bet: BetSnapshot) -> BetStatus:
    """What the provider's history feed says about the bet (UNKNOWN: no row yet)."""

    def read() -> BetStatus:
        with ctx.db.transaction() as connection:
            return mirror.bet_answer_now(connection, bet)

    return ctx.db.retry(read)


def mirror_decides(provider: Provider, answer: BetStatus) -> bool:
    """Whether the mirror's answer is the answer: a final row (or rows that disagree,
    for a person), or any answer of a provider that has no status call to ask."""
    return (answer.status in mirror.FINAL or isinstance(answer, ConflictingAnswer)
            or Capability.STATUS not in provider.capabilities)


def mirror_event(bet: BetSnapshot, answer: BetStatus, attempt: int) -> NewEvent:
    return NewEvent(EventKind.PROVIDER_ANSWERED, f"provider:{bet.provider}",
                    {"attempt": attempt, **answer.as_detail()})


CancelAnswer = tuple[CancelOutcome | None, list[NewEvent]]


def ask_cancel(provider: Provider, bet: BetSnapshot) -> CancelAnswer:
    """Ask the provider to cancel (and so fence) the bet (its round: for a provider that
    names rounds, every bet of it); an error is no answer."""
    actor = f"provider:{bet.provider}"
    try:
        outcome = provider.cancel(bet.round_ref, bet.player_id)
    except ProviderError as exc:
        return None, [NewEvent(EventKind.CANCEL_FAILED, actor, error_detail(exc, None))]
    outcome = CancelOutcome(outcome.accepted, answer_for_bet(outcome.status, bet))
    detail = {"accepted": outcome.accepted, **outcome.status.as_detail()}
    return outcome, [NewEvent(EventKind.CANCEL_ANSWERED, actor, detail)]


def error_detail(exc: ProviderError, attempt: int | None) -> dict[str, object]:
    return {"attempt": attempt, "error": type(exc).__name__, "message": str(exc)[:500]}


def decide(ctx: Context, provider: Provider, bet: BetSnapshot, answer: BetStatus | None,
           events: list[NewEvent]) -> Verdict:
    """From the provider's answer (None: no usable answer) to the change to make: the
    deadline path under a refund policy first asks the provider to cancel."""
    decision = first_decision(ctx, bet, answer)
    cancel = ask_cancel(provider, bet) if decision.action is Action.CANCEL else None
    return verdict_for(ctx, bet, answer, events, decision, cancel)


def first_decision(ctx: Context, bet: BetSnapshot, answer: BetStatus | None) -> Decision:
    """The decision on the status answer alone (CANCEL: a cancel request decides). One
    that rests on the silence of the provider's history copy waits while that copy is
    older than the moment the decision must cover (``betguard.models.domain.freshness``)."""
    policy, capabilities = ctx.policy(bet.provider), ctx.providers[bet.provider].capabilities
    decision = decide_after_check(
        policy, stake=bet.stake, currency=bet.currency, answer=answer, now=ctx.clock(),
        deadline=bet.deadline, placed_at=bet.placed_at, capabilities=capabilities,
    )
    if answer is None or not freshness.rests_on_the_copy(decision, answer):
        return decision
    covers = freshness.must_cover(policy, capabilities, answer=answer,
                                  placed_at=bet.placed_at, deadline=bet.deadline)
    waiting = freshness.wait_for_the_copy(answer.as_of, covers, retry_in=policy.feed_interval)
    if waiting is None:
        return decision
    log.warning("bet %s: %s", bet.label, waiting.reason)
    return waiting


def verdict_for(ctx: Context, bet: BetSnapshot, answer: BetStatus | None,
                events: list[NewEvent], decision: Decision,
                cancel: CancelAnswer | None) -> Verdict:
    """The verdict from the first decision and, when it was CANCEL, the cancel's answer."""
    if decision.action is Action.CANCEL:
        outcome, cancel_events = cancel if cancel is not None else (None, [])
        events = [*events, *cancel_events]
        decision = decide_after_cancel(outcome, currency=bet.currency, now=ctx.clock(),
                                       deadline=bet.deadline)
        answer = outcome.status if outcome else answer
    now = ctx.clock()
    at = None
    if decision.action is Action.RESCHEDULE:
        at = (now + timedelta(seconds=decision.retry_in) if decision.retry_in is not None
              else _next_check_at(ctx, bet, answer, now))
    change = change_for_decision(bet, decision, now=now, found=events, answer=answer,
                                 settled_by=f"provider:{bet.provider}", next_check_at=at)
    return Verdict(bet, decision, answer, events, change)


def conclude(ctx: Context, verdicts: Sequence[Verdict]) -> list[bool]:
    """Apply each verdict's change in one transaction; for a bet that changed while the
    provider was asked, record what was found, and a conflict if it contradicts. Run
    again through a lost connection; a run whose COMMIT answer was lost is found by its
    token (every bet one version on, written at this conclusion's moment)."""
    now = ctx.clock()

    def found_applied() -> list[bool] | None:
        with ctx.db.transaction() as connection:
            done = repository.all_applied(connection, [v.bet for v in verdicts], now=now)
        return [True] * len(verdicts) if done else None

    return ctx.db.retry(lambda: _conclude(ctx, verdicts, now), recover=found_applied)


def _conclude(ctx: Context, verdicts: Sequence[Verdict], now: datetime) -> list[bool]:
    if all(_quiet(verdict.change) for verdict in verdicts) and _applied_quietly(ctx, verdicts,
                                                                                 now):
        return [True] * len(verdicts)
    with ctx.db.unit_of_work() as session:
        applied = bulk.apply_many(session, [(v.bet, v.change) for v in verdicts], now=now)
        for verdict, won in zip(verdicts, applied, strict=True):
            if not won:
                _note_superseded(session, verdict, now)
        session.commit()
    return applied


def _quiet(change: Change) -> bool:
    return change.notify is None and change.review is None


class _ChangedMeanwhile(Exception):
    """Rolls back a quiet conclusion some bet of which changed meanwhile."""


def _applied_quietly(ctx: Context, verdicts: Sequence[Verdict], now: datetime) -> bool:
    """The common case (every bet rescheduled, none changed meanwhile) in one Core
    transaction, without the ORM; False, with nothing written, otherwise."""
    try:
        with ctx.db.transaction() as connection:
            if not bulk.apply_quietly_many(connection, [(v.bet, v.change) for v in verdicts],
                                           now=now):
                raise _ChangedMeanwhile
    except _ChangedMeanwhile:
        return False
    return True


def _note_superseded(session: Session, verdict: Verdict, now: datetime) -> None:
    bet, answer = verdict.bet, verdict.answer
    current = repository.get(session, bet.id)
    if current is not None and answer is not None:
        fact = Fact(f"provider:{bet.provider}", answer.status, answer.payout, answer.currency)
        if note_fact(session, current, fact, events=verdict.found, now=now) is Taken.CHANGED:
            repository.add_events(session, bet.id, verdict.found, now=now)
    elif current is not None:
        repository.add_events(session, bet.id, verdict.found, now=now)


def _next_check_at(ctx: Context, bet: BetSnapshot, answer: BetStatus | None,
                   now: datetime) -> datetime:
    """The backoff's next check, never past the next moment the decision could change:
    the deadline; for a bet the provider does not know, the moment its "never saw it" is
    believed (``unknown_grace``); for a bet waiting for a provider without a cancel call
    to resolve it, the moment that resolution can be seen (``next_check_limit``)."""
    policy = ctx.policy(bet.provider)
    until = next_check_limit(policy, ctx.providers[bet.provider].capabilities, answer=answer,
                             now=now, placed_at=bet.placed_at, deadline=bet.deadline)
    return schedule.next_check_at(policy, bet.check_attempt - 1, now, until, ctx.draw)


def wake_after(ctx: Context, verdict: Verdict) -> None:
    """After commit: the bet's next check, or its refund."""
    bet, values = verdict.bet, verdict.change.values
    if verdict.decision.action is Action.RESCHEDULE:
        ctx.scheduler.check(bet.id, bet.check_attempt, values["next_check_at"], label=bet.label)
    elif verdict.decision.action is Action.REFUND:
        ctx.scheduler.refund(bet.id, values["next_check_at"], label=bet.label,
                             attempt=bet.check_attempt)
