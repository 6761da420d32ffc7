"""Waking checks up after commit: checks of one provider due at about the same time
share one wake-up (``check_batch``), up to the provider's ``checks_per_wakeup``: a
batched request's bets for a provider that answers many bets in one call
(``supports_batch``), else a group of single calls run side by side. A check due
alone is woken on its own (``check``)."""

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
    """Publish the wake-ups of ``due`` (the scheduler never raises: sweeps back it up)."""
    by_provider: dict[str, list[DueCheck]] = defaultdict(list)
    for check in due:
        if check.provider in ctx.policies:
            by_provider[check.provider].append(check)
        else:  # its own wake-up: the check then crashes, and ends in review
            ctx.scheduler.check(check.bet_id, check.attempt, check.at, label=check.label)
    for provider, checks in by_provider.items():
        policy = ctx.policy(provider)
        for chunk in chunks_by_time(checks, policy.checks_per_wakeup):
            if len(chunk) == 1 and not policy.supports_batch:
                ctx.scheduler.check(chunk[0].bet_id, chunk[0].attempt, chunk[0].at,
                                    label=chunk[0].label)
            else:
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
