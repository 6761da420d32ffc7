"""When to check a bet next: exponential backoff with jitter, never past the deadline.

Pure functions of (policy, attempt, now, random draw): tested without a clock.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol


class BackoffPolicy(Protocol):
    @property
    def first_check_delay(self) -> float: ...
    @property
    def backoff_base(self) -> float: ...
    @property
    def backoff_factor(self) -> float: ...
    @property
    def backoff_cap(self) -> float: ...
    @property
    def jitter(self) -> float: ...


def backoff_ceiling(policy: BackoffPolicy, attempt: int) -> float:
    """The longest wait after check number ``attempt`` (1-based)."""
    exponent = max(attempt - 1, 0)
    # Compare in logarithms first: a steep factor would overflow ``factor ** n``.
    if exponent * math.log(policy.backoff_factor) >= math.log(
        policy.backoff_cap / policy.backoff_base
    ):
        return policy.backoff_cap
    return min(policy.backoff_cap, policy.backoff_base * policy.backoff_factor**exponent)


def backoff_delay(policy: BackoffPolicy, attempt: int, draw: Callable[[], float]) -> float:
    """The wait after check number ``attempt``: the ceiling less a jittered share of it.

    ``jitter`` 1.0 is "full jitter" (anywhere in ``[0, ceiling]``); 0.0 is none.
    ``draw`` returns a number in ``[0, 1)``.
    """
    return backoff_ceiling(policy, attempt) * (1.0 - policy.jitter * draw())


def first_check_at(policy: BackoffPolicy, placed: datetime, deadline: datetime) -> datetime:
    return min(placed + timedelta(seconds=policy.first_check_delay), deadline)


def next_check_at(
    policy: BackoffPolicy,
    attempt: int,
    now: datetime,
    deadline: datetime,
    draw: Callable[[], float],
) -> datetime:
    """When to check again after check number ``attempt`` found no result."""
    return min(now + timedelta(seconds=backoff_delay(policy, attempt, draw)), deadline)
