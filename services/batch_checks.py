"""Checks of one provider run together: claim the due checks in one statement, ask the
provider, conclude every bet in one transaction and publish the next wake-ups together.

A provider that answers many bets in one call (``supports_batch``) is asked once
(``POST /bets/status``); any other is asked about each bet in its own call, the calls
running side by side, a few at a time (``GROUP_CALLS_AT_ONCE``, never more than the
provider's ``max_concurrency``); a call finding every slot taken waits a little for one
(``GROUP_SLOT_WAIT``), then is refused as busy, and while the provider's circuit
breaker is closed the calls share one admission (``GuardedProvider.for_group``). A
provider that hangs holds one worker thread per group, not one per bet.

Each bet keeps every guarantee of ``betguard.services.checks``: its check is claimed by attempt
number before the call (a duplicate or stale entry does nothing), no transaction is
open during the call, and its decision, transition, escalation and audit events are
the single check's own (``ask_provider_status``, ``first_decision``, ``verdict_for``,
``conclude``).

For a provider with a history feed the mirror is read first, as the single check
does (``betguard.services.checks``): the bets it decides are left out of the call, and a
provider without a status call is not called at all.

Calls made one per bet (statuses of a group, and the cancels of bets that reach the
deadline path) run concurrently within what is left of the lease: one after the
other, many bets times a read timeout would outlive the lease, and the sweep would
send bets still in flight again. A call not answered by then is no answer.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import AbstractContextManager, nullcontext
from datetime import timedelta
from typing import TypeVar, cast

from betguard.models.domain.answers import BetStatus, Capability
from betguard.models.domain.escalation import Action
from betguard.models.domain.events import EventKind
from betguard.models.domain.rounds import answer_for_bet
from betguard.models.domain.snapshot import BetSnapshot
from betguard.models.domain.transitions import NewEvent
from betguard.models.store import bulk, mirror, repository
from betguard.providers.base import Provider
from betguard.providers.errors import ProviderError
from betguard.services.checks import (
    CancelAnswer,
    CheckOutcome,
    Verdict,
    ask_cancel,
    ask_provider_status,
    conclude,
    error_detail,
    first_decision,
    mirror_decides,
    mirror_event,
    verdict_for,
)
from betguard.services.context import Context
from betguard.services.wakeups import DueCheck, wake_checks

Answer = tuple[BetStatus | None, list[NewEvent]]
R = TypeVar("R")
MAX_CANCELS_IN_FLIGHT = 8
# How long a group's call waits for a free concurrency slot of its provider before it is
# refused as busy: about a slow answer. Checks of one provider due together run in
# several groups at once; without it, the calls of one group would be refused for the
# slots another group holds for a few tens of milliseconds.
GROUP_SLOT_WAIT = 1.0
# A group's calls in flight at once, at most (and never more than its provider's
# max_concurrency): the rest take their turn on the same threads. A worker runs many
# groups at once; 25 calls each would open hundreds of connections to a provider.
GROUP_CALLS_AT_ONCE = 4
# What a batch keeps of its lease for itself: concluding its bets in the database.
LEASE_MARGIN_SHARE = 0.2
LEASE_MARGIN_MAX = 10.0


def run_batch_check(ctx: Context, provider_name: str,
                    checks: Sequence[tuple[int, int]]) -> Counter[str]:
    """Check the bets ``(bet id, attempt)`` of one provider; returns outcomes and counts."""
    claimed = time.monotonic()  # the lease starts with the claim
    bets = _claim(ctx, provider_name, checks)
    outcomes: Counter[str] = Counter({CheckOutcome.STALE.value: len(set(checks)) - len(bets)})
    if not bets:
        return +outcomes
    provider = ctx.providers[provider_name]
    limit = ctx.policy(provider_name).max_concurrency

    def budget() -> float:
        return cancel_budget(ctx.timing.check_lease, time.monotonic() - claimed)

    answers = ask_statuses(ctx, provider, bets, budget=budget, limit=limit)
    first = {bet.id: first_decision(ctx, bet, answers[bet.id][0]) for bet in bets}
    cancels = ask_cancels(provider, [b for b in bets if first[b.id].action is Action.CANCEL],
                          budget=budget(), limit=limit)
    verdicts = [verdict_for(ctx, bet, *answers[bet.id], first[bet.id], cancels.get(bet.id))
                for bet in bets]
    applied = conclude(ctx, verdicts)
    won = [verdict for verdict, ok in zip(verdicts, applied, strict=True) if ok]
    _wake(ctx, won)
    outcomes.update(verdict.outcome.value for verdict in won)
    outcomes[CheckOutcome.SUPERSEDED.value] += len(verdicts) - len(won)
    return +outcomes


def _claim(ctx: Context, provider: str, checks: Sequence[tuple[int, int]]) -> list[BetSnapshot]:
    now = ctx.clock()
    lease_until = now + timedelta(seconds=ctx.timing.check_lease)
    policy = ctx.policies.get(provider)
    together = "group" if policy is not None and not policy.supports_batch else "batch"

    def claim() -> list[BetSnapshot]:
        with ctx.db.transaction() as connection:
            return bulk.claim_and_start_many(connection, provider, checks,
                                             lease_until=lease_until, now=now, together=together)

    def find_own_claims() -> list[BetSnapshot] | None:  # after a lost COMMIT answer
        with ctx.db.transaction() as connection:
            return repository.own_claims(connection, checks, lease_until=lease_until) or None

    return ctx.db.retry(claim, recover=find_own_claims)


def ask_statuses(ctx: Context, provider: Provider, bets: Sequence[BetSnapshot], *,
                 budget: Callable[[], float],
                 limit: int = MAX_CANCELS_IN_FLIGHT) -> dict[int, Answer]:
    """The mirror's answers where it decides, then the provider about the other bets:
    in one call when it answers batches, else each bet in its own call, side by side
    (at most ``limit`` at once), for at most ``budget()`` seconds."""
    answers = read_mirror_many(ctx, provider, bets)
    rest = [bet for bet in bets if bet.id not in answers]
    if rest and provider.supports_batch:
        answers.update(ask_provider(provider, rest))
    elif rest:
        left = budget()
        with _group_view(provider, slot_wait=min(GROUP_SLOT_WAIT, left)) as asker:
            answers.update(concurrently(
                lambda bet: ask_provider_status(asker, bet, bet.check_attempt - 1), rest,
                budget=left, limit=min(limit, GROUP_CALLS_AT_ONCE),
                name=f"check-{provider.name}",
                not_answered=lambda bet, spent: _not_answered(
                    bet, spent, "StatusNotAnswered", bet.check_attempt - 1)))
    return answers


def _group_view(provider: Provider, *, slot_wait: float) -> AbstractContextManager[Provider]:
    """A guarded provider's view for one group of calls (its slots handed on between
    them, ``GuardedProvider.for_group``); any other provider as it is."""
    for_group = getattr(provider, "for_group", None)
    if for_group is None:
        return nullcontext(provider)
    return cast(AbstractContextManager[Provider], for_group(slot_wait=slot_wait))


def read_mirror_many(ctx: Context, provider: Provider,
                     bets: Sequence[BetSnapshot]) -> dict[int, Answer]:
    """The answers the mirror of the provider's history decides (none without one)."""
    if Capability.HISTORY not in provider.capabilities:
        return {}
    answers: dict[int, Answer] = {}
    if not bets:
        return {}
    with ctx.db.transaction() as connection:
        as_of = mirror.synced_at(connection, bets[0].provider)  # first: see answer_as_of
        for bet in bets:
            found = mirror.bet_answer(connection, bet, as_of=as_of)
            if mirror_decides(provider, found):
                answers[bet.id] = (found, [mirror_event(bet, found, bet.check_attempt - 1)])
    return answers


def ask_provider(provider: Provider, bets: Sequence[BetSnapshot]) -> dict[int, Answer]:
    """Ask about every bet in one call; an error is every bet's error, handled like an
    outage, as is a bet the answer leaves out."""
    actor = f"provider:{provider.name}"
    started = time.perf_counter()
    try:
        found = provider.get_statuses(sorted({bet.round_ref for bet in bets}))
    except ProviderError as exc:
        return {bet.id: (None, [NewEvent(EventKind.PROVIDER_ERROR, actor,
                                         error_detail(exc, bet.check_attempt - 1))])
                for bet in bets}
    elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
    answers: dict[int, Answer] = {}
    for bet in bets:
        attempt, answer = bet.check_attempt - 1, found.get(bet.round_ref)
        if answer is not None:
            answer = answer_for_bet(answer, bet)
        if answer is None:
            detail = {"attempt": attempt, "error": "ProviderInvalidResponse",
                      "message": "the batched answer left this bet out"}
            answers[bet.id] = (None, [NewEvent(EventKind.PROVIDER_ERROR, actor, detail)])
            continue
        detail = {"attempt": attempt, **answer.as_detail(), "elapsed_ms": elapsed_ms,
                  "batch": len(bets)}
        answers[bet.id] = (answer, [NewEvent(EventKind.PROVIDER_ANSWERED, actor, detail)])
    return answers


def cancel_budget(lease: float, spent: float) -> float:
    """Seconds the batch's cancels may take: the lease, less what the batch spent so far
    and a margin to conclude in (never below zero)."""
    margin = min(LEASE_MARGIN_MAX, lease * LEASE_MARGIN_SHARE)
    return max(0.0, lease - margin - spent)


def ask_cancels(provider: Provider, bets: Sequence[BetSnapshot], *, budget: float,
                limit: int = MAX_CANCELS_IN_FLIGHT) -> dict[int, CancelAnswer]:
    """Ask the provider to cancel each bet, a few at a time (never more than ``limit``,
    the provider's bulkhead), for at most ``budget`` seconds in all. A cancel not
    answered by then is no answer (the bet goes to a person); its call ends by itself,
    bounded by the client's timeouts."""
    return concurrently(
        lambda bet: ask_cancel(provider, bet), bets, budget=budget,
        limit=min(limit, MAX_CANCELS_IN_FLIGHT), name=f"cancel-{provider.name}",
        not_answered=lambda bet, spent: _not_answered(bet, spent, "CancelNotAnswered", None,
                                                      EventKind.CANCEL_FAILED))


def concurrently(call: Callable[[BetSnapshot], R], bets: Sequence[BetSnapshot], *,
                 budget: float, limit: int, name: str,
                 not_answered: Callable[[BetSnapshot, float], R]) -> dict[int, R]:
    """``call`` for each bet, at most ``limit`` at once, for at most ``budget`` seconds in
    all: a bet whose call has not answered by then gets ``not_answered`` (its call, if
    it started, ends by itself, bounded by the client's timeouts)."""
    if not bets:
        return {}
    if budget <= 0:  # the lease is spent: an answer now would be answered to nobody
        return {bet.id: not_answered(bet, budget) for bet in bets}
    pool = ThreadPoolExecutor(max_workers=max(1, min(len(bets), limit)),
                              thread_name_prefix=name)
    try:
        asked = {bet.id: pool.submit(call, bet) for bet in bets}
        wait(asked.values(), timeout=budget)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return {bet.id: _answered(asked[bet.id], bet, budget, not_answered) for bet in bets}


def _answered(future: Future[R], bet: BetSnapshot, budget: float,
              not_answered: Callable[[BetSnapshot, float], R]) -> R:
    if future.done() and not future.cancelled():
        return future.result()
    return not_answered(bet, budget)


def _not_answered(bet: BetSnapshot, budget: float, error: str, attempt: int | None,
                  kind: EventKind = EventKind.PROVIDER_ERROR) -> tuple[None, list[NewEvent]]:
    detail = {"attempt": attempt, "error": error,
              "message": f"no answer within {budget:.1f} s, the time left of the check's lease"}
    return None, [NewEvent(kind, f"provider:{bet.provider}", detail)]


def _wake(ctx: Context, verdicts: Sequence[Verdict]) -> None:
    """After commit: refunds one by one, next checks batched again."""
    due = []
    for verdict in verdicts:
        bet, at = verdict.bet, verdict.change.values.get("next_check_at")
        if verdict.outcome is CheckOutcome.REFUND and at is not None:
            ctx.scheduler.refund(bet.id, at, label=bet.label, attempt=bet.check_attempt)
        elif verdict.outcome is CheckOutcome.RESCHEDULED and at is not None:
            due.append(DueCheck(bet.id, bet.check_attempt, bet.provider, bet.label, at))
    wake_checks(ctx, due)
