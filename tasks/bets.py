"""Tasks about one bet. Arguments are JSON primitives; ``ref`` is only for people
reading Flower and logs (``provider/bet_ref``): every log line a task causes carries
it, and the worker's metrics count each outcome.

A check that raises unexpectedly is recorded on the bet (``betguard.services.crashes``) and
tried again, a few times, then sent to review: it never waits out its lease to be
sent again forever.
"""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import Any

from betguard.config.celery import (
    BATCH_CHECK_TASK,
    CHECK_TASK,
    NOTIFY_TASK,
    PLACE_TASK,
    REFUND_TASK,
)
from betguard.logs import bet_context
from betguard.messaging.app import app
from betguard.metrics.worker import (
    CHECKS,
    ERROR,
    NOTIFICATION_DELIVERIES,
    REFUND_ATTEMPTS,
    counted,
)
from betguard.models.domain.errors import BetguardError, ConflictingBet, InvalidBet, UnknownProvider
from betguard.services.batch_checks import run_batch_check
from betguard.services.checks import run_check
from betguard.services.crashes import record_batch_crash, record_check_crash
from betguard.services.intake import place_bet
from betguard.services.notifications import deliver
from betguard.services.refunds import run_refund
from betguard.tasks.runtime import context

log = logging.getLogger(__name__)


@app.task(name=CHECK_TASK)
def check(bet_id: int, attempt: int, ref: str = "") -> str:
    with bet_context(ref) as bet:
        outcome = counted(CHECKS, lambda: _check(bet_id, attempt, ref), provider=bet.provider)
        log.info("bet %s: check %d %s", ref, attempt, outcome)
    return outcome


def _check(bet_id: int, attempt: int, ref: str) -> StrEnum:
    ctx = context()
    try:
        return run_check(ctx, bet_id, attempt)
    except Exception as exc:
        log.exception("bet %s: check %d crashed", ref, attempt)
        crashed = record_check_crash(ctx, bet_id, attempt, exc)
        if crashed is None:  # the check held nothing: the lease and the sweep cover it
            raise
        return crashed


@app.task(name=BATCH_CHECK_TASK)
def check_batch(provider: str, checks: list[list[int]]) -> dict[str, int]:
    """The checks of ``provider`` due together: one batched status query for a provider
    that answers them, else a group of single calls run side by side."""
    pairs = [(bet_id, attempt) for bet_id, attempt in checks]
    ctx = context()
    try:
        outcomes = dict(run_batch_check(ctx, provider, pairs))
    except Exception as exc:
        log.exception("provider %s: batched check of %d bets crashed", provider, len(pairs))
        CHECKS.labels(outcome=ERROR, provider=provider).inc()
        outcomes = record_batch_crash(ctx, pairs, exc)
        if not outcomes:
            raise
    for outcome, count in outcomes.items():
        CHECKS.labels(outcome=outcome, provider=provider).inc(count)
    log.info("provider %s: batched check of %d bets: %s", provider, len(checks), outcomes)
    return outcomes


@app.task(name=REFUND_TASK)
def refund(bet_id: int, ref: str = "", attempt: int | None = None) -> str:
    """``attempt``: the refund attempt the wake-up is for; None (older publishers) takes
    the bet only while no attempt holds it."""
    with bet_context(ref):
        outcome = counted(REFUND_ATTEMPTS, lambda: run_refund(context(), bet_id, attempt))
        log.info("bet %s: refund %s", ref, outcome)
    return outcome


@app.task(name=NOTIFY_TASK)
def notify(notification_id: int) -> str:
    outcome = counted(NOTIFICATION_DELIVERIES, lambda: deliver(context(), notification_id))
    log.info("notification %d: %s", notification_id, outcome)
    return outcome


@app.task(name=PLACE_TASK, ignore_result=False)
def place(bet: dict[str, Any]) -> dict[str, Any]:
    """Register a bet. A refusal is an answer, not a task failure: the caller reads it."""
    try:
        placed = place_bet(context(), bet)
    except InvalidBet as exc:
        return {"status": "rejected", "error": str(exc), "fields": exc.fields}
    except ConflictingBet as exc:
        return {"status": "conflict", "error": str(exc), "fields": exc.fields}
    except UnknownProvider as exc:
        return {"status": "rejected", "error": str(exc), "fields": ["provider"]}
    except BetguardError as exc:
        return {"status": "rejected", "error": str(exc), "fields": []}
    return {
        "status": "placed" if placed.created else "exists",
        "bet_id": placed.bet.id,
        "state": placed.bet.state.value,
    }
