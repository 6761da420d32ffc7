"""Waking checks up after commit: one message per bet, or, for a provider that answers
many bets in one call (``supports_batch``), one message per chunk of bets due at about
the same time."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from betguard.services.context import Context

# Checks due within this long of each other share one wake-up, sent for the latest of
# them: none runs early, none more than this late.
SHARED_WAKEUP_WINDOW = timedelta(seconds=1)


@dataclass(frozen=True)
class DueCheck:
    bet_id: int
    attempt: int
    provider: str
    label: str  # provider/bet_ref, for people reading logs and Flower
    at: datetime


def wake_checks(ctx: Context, due: Sequence[DueCheck]) -> None:
    """Publish a wake-up for each check (the scheduler never raises: sweeps back it up)."""
    batched: dict[str, list[DueCheck]] = defaultdict(list)
    for check in due:
        policy = ctx.policies.get(check.provider)
        if policy is not None and policy.supports_batch:
            batched[check.provider].append(check)
        else:
            ctx.scheduler.check(check.bet_id, check.attempt, check.at, label=check.label)
    for provider, checks in batched.items():
        for chunk in chunks_by_time(checks, ctx.policy(provider).batch_size):
            ctx.scheduler.check_batch(provider, [(c.bet_id, c.attempt) for c in chunk],
                                      max(c.at for c in chunk))


def chunks_by_time(checks: Sequence[DueCheck], size: int) -> list[list[DueCheck]]:
    """Checks in order of time, cut into chunks of at most ``size`` that each span at
    most ``SHARED_WAKEUP_WINDOW``."""
    chunks: list[list[DueCheck]] = []
    for check in sorted(checks, key=lambda c: c.at):
        current = chunks[-1] if chunks else None
        if current is None or len(current) >= size or \
                check.at - current[0].at > SHARED_WAKEUP_WINDOW:
            chunks.append([check])
        else:
            current.append(check)
    return chunks
