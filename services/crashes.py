"""A check that fails unexpectedly (a bug, a provider removed from the policies, a
policy that cannot be read) ends in review after a few tries, instead of waiting out
its lease and being sent again forever.

The task catches what the check raised and calls ``record_check_crash``: if the
check still holds the bet (claimed by this attempt, nothing concluded), a
``check_crashed`` event says what failed and the check is tried again after a lease;
the ``MAX_CRASHES``-th crash in a row (no provider answer or error in between) opens
a ``check_failing`` review instead. The bet's history tells a person why.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum

from betguard.models.domain.decisions import change_for_decision
from betguard.models.domain.escalation import Action, Decision
from betguard.models.domain.events import EventKind, ReviewReason
from betguard.models.domain.snapshot import BetSnapshot
from betguard.models.domain.states import BetState
from betguard.models.domain.transitions import Change, NewEvent
from betguard.models.store import repository
from betguard.models.store.db import Session
from betguard.models.store.reconnect import is_disconnect
from betguard.services.context import Context

MAX_CRASHES = 3
# The kinds that end a run of crashes: the provider was asked, whatever it said.
ASKED = (EventKind.PROVIDER_ANSWERED, EventKind.PROVIDER_ERROR)
RUN_KINDS = (EventKind.CHECK_CRASHED, *ASKED)


class CrashOutcome(StrEnum):
    CRASHED = "crashed"  # recorded; checked again after a lease
    FAILING = "failing"  # crashed too often in a row: a review is open


def record_check_crash(ctx: Context, bet_id: int, attempt: int,
                       error: BaseException) -> CrashOutcome | None:
    """Record the crash of check ``attempt``; None when that check no longer holds the
    bet (it concluded, or never claimed it): then there is nothing to record. Nor is a
    lost database connection the check's crash (a failover, after the unit of work's
    own tries ran out): the lease and the sweep run the check again."""
    if is_disconnect(error):
        return None
    now = ctx.clock()
    with ctx.db.unit_of_work() as session:
        bet = repository.get(session, bet_id)
        if bet is None or not _still_held(session, bet, attempt):
            return None
        crashes = _crashes_in_a_row(session, bet_id) + 1
        change = _change_for(ctx, bet, attempt, error, crashes, now)
        if not repository.apply(session, bet, change, now=now):
            return None
        session.commit()
    if change.target_state is BetState.IN_REVIEW:
        return CrashOutcome.FAILING
    ctx.scheduler.check(bet.id, bet.check_attempt, change.values["next_check_at"],
                        label=bet.label)
    return CrashOutcome.CRASHED


def record_batch_crash(ctx: Context, checks: Sequence[tuple[int, int]],
                       error: BaseException) -> dict[str, int]:
    """``record_check_crash`` for each bet of a batched check; outcomes and counts."""
    counts: dict[str, int] = {}
    for bet_id, attempt in dict.fromkeys(tuple(pair) for pair in checks):
        outcome = record_check_crash(ctx, bet_id, attempt, error)
        if outcome is not None:
            counts[outcome.value] = counts.get(outcome.value, 0) + 1
    return counts


def _still_held(session: Session, bet: BetSnapshot, attempt: int) -> bool:
    """Claimed by this attempt and not concluded: its last event is its ``check_started``."""
    if bet.state is not BetState.PENDING or bet.check_attempt != attempt + 1:
        return False
    return repository.latest_kinds(session, bet.id) == [EventKind.CHECK_STARTED.value]


def _crashes_in_a_row(session: Session, bet_id: int) -> int:
    count = 0
    for kind in repository.latest_kinds(session, bet_id, RUN_KINDS, MAX_CRASHES):
        if kind != EventKind.CHECK_CRASHED.value:
            break
        count += 1
    return count


def _change_for(ctx: Context, bet: BetSnapshot, attempt: int, error: BaseException,
                crashes: int, now: datetime) -> Change:
    detail = {"attempt": attempt, "error": type(error).__name__,
              "message": str(error)[:500], "crashes_in_a_row": crashes}
    crashed = NewEvent(EventKind.CHECK_CRASHED, "betguard", detail)
    if crashes >= MAX_CRASHES:
        why = (f"the check crashed {crashes} times in a row "
               f"({detail['error']}: {detail['message']}); betguard cannot ask the provider")
        return change_for_decision(
            bet, Decision(Action.REVIEW, why, ReviewReason.CHECK_FAILING), now=now,
            found=[crashed], review_detail={"error": detail["error"]})
    return change_for_decision(
        bet, Decision(Action.RESCHEDULE, "the check crashed"), now=now, found=[crashed],
        next_check_at=now + timedelta(seconds=ctx.timing.check_lease))
