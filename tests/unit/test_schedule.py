"""The retry schedule: exponential backoff with jitter, never past the deadline.

Pure functions: a fixed moment stands in for the clock and ``draw`` is injected.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from betguard.config.policies import ProviderPolicy
from betguard.models.domain.schedule import (
    backoff_ceiling,
    backoff_delay,
    first_check_at,
    next_check_at,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)
ALMOST_ONE = math.nextafter(1.0, 0.0)  # the largest value ``draw`` may return


def policy(**changes: Any) -> ProviderPolicy:
    options: dict[str, Any] = {
        "name": "acme",
        "base_url": "http://provider.test",
        "first_check_delay": 30.0,
        "backoff_base": 10.0,
        "backoff_factor": 3.0,
        "backoff_cap": 1000.0,
        "jitter": 0.25,
        **changes,
    }
    return ProviderPolicy(**options)


def always(value: float) -> Callable[[], float]:
    return lambda: value


# --- ceilings ----------------------------------------------------------------


def test_backoff_ceilings_grow_by_the_factor_from_the_base() -> None:
    ceilings = [backoff_ceiling(policy(), attempt) for attempt in range(1, 6)]
    assert ceilings == [10.0, 30.0, 90.0, 270.0, 810.0]


def test_backoff_ceilings_stop_at_the_cap_and_stay_there() -> None:
    ceilings = [backoff_ceiling(policy(), attempt) for attempt in range(6, 60)]
    assert ceilings == [1000.0] * len(ceilings)


def test_a_factor_of_one_keeps_every_wait_at_the_base() -> None:
    flat = policy(backoff_factor=1.0)
    assert {backoff_ceiling(flat, attempt) for attempt in range(1, 30)} == {10.0}


@pytest.mark.parametrize("attempt", [0, -1, -1000])
def test_an_attempt_number_below_one_waits_like_the_first_check(attempt: int) -> None:
    assert backoff_ceiling(policy(), attempt) == 10.0


@pytest.mark.parametrize("attempt", [65, 1_000, 10**9, sys.maxsize, 10**30])
def test_huge_attempt_numbers_wait_the_cap_without_overflowing(attempt: int) -> None:
    assert backoff_ceiling(policy(), attempt) == 1000.0
    assert backoff_delay(policy(), attempt, always(0.0)) == 1000.0


def test_a_steep_factor_the_policy_accepts_does_not_overflow_after_many_attempts() -> None:
    steep = policy(backoff_factor=1e5)
    assert backoff_ceiling(steep, 100) == 1000.0


# --- jitter ------------------------------------------------------------------


def test_a_draw_of_zero_waits_the_whole_ceiling() -> None:
    assert backoff_delay(policy(), 3, always(0.0)) == 90.0


def test_a_draw_close_to_one_waits_the_ceiling_less_the_jitter_share() -> None:
    delay = backoff_delay(policy(jitter=0.25), 3, always(ALMOST_ONE))
    assert delay == pytest.approx(90.0 * (1 - 0.25))


def test_without_jitter_every_draw_waits_the_ceiling() -> None:
    still = policy(jitter=0.0)
    assert {backoff_delay(still, 4, always(d)) for d in (0.0, 0.3, ALMOST_ONE)} == {270.0}


@pytest.mark.parametrize("draw", [0.0, 0.25, 0.5, 0.75, ALMOST_ONE])
def test_full_jitter_spreads_the_wait_over_the_whole_ceiling(draw: float) -> None:
    delay = backoff_delay(policy(jitter=1.0), 2, always(draw))
    assert delay == pytest.approx(30.0 * (1 - draw))
    assert 0.0 < delay <= 30.0


@pytest.mark.parametrize("draw", [0.0, 0.1, 0.5, 0.9, ALMOST_ONE])
@pytest.mark.parametrize("attempt", [1, 2, 5, 10, 100])
def test_a_jittered_wait_stays_between_its_floor_and_its_ceiling(attempt: int, draw: float) -> None:
    jittered = policy(jitter=0.4)
    ceiling = backoff_ceiling(jittered, attempt)
    delay = backoff_delay(jittered, attempt, always(draw))
    assert ceiling * (1 - 0.4) <= delay <= ceiling


def test_the_draw_is_asked_once_per_wait() -> None:
    draws: list[float] = []

    def counting_draw() -> float:
        draws.append(0.5)
        return 0.5

    backoff_delay(policy(), 2, counting_draw)
    assert len(draws) == 1


# --- first and next check ---------------------------------------------------


def test_the_first_check_comes_the_first_check_delay_after_placing() -> None:
    deadline = NOW + timedelta(hours=6)
    assert first_check_at(policy(), NOW, deadline) == NOW + timedelta(seconds=30)


def test_the_first_check_is_never_scheduled_past_the_deadline() -> None:
    deadline = NOW + timedelta(seconds=5)
    assert first_check_at(policy(), NOW, deadline) == deadline


def test_the_next_check_comes_after_the_jittered_wait() -> None:
    deadline = NOW + timedelta(hours=6)
    at = next_check_at(policy(jitter=1.0), 3, NOW, deadline, always(0.5))
    assert at == NOW + timedelta(seconds=45)


def test_a_check_is_never_scheduled_past_the_deadline() -> None:
    deadline = NOW + timedelta(seconds=60)
    assert next_check_at(policy(), 10, NOW, deadline, always(0.0)) == deadline


def test_a_check_after_the_deadline_is_due_at_the_deadline_at_once() -> None:
    deadline = NOW - timedelta(minutes=1)
    assert next_check_at(policy(), 1, NOW, deadline, always(0.0)) == deadline


@pytest.mark.parametrize("seconds_left", [-3600, 0, 59, 48 * 3600])
@pytest.mark.parametrize("jitter", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("draw", [0.0, ALMOST_ONE])
@pytest.mark.parametrize("attempt", [-5, 1, 7, 10**6])
def test_the_next_check_is_never_past_the_deadline_nor_before_now(
    attempt: int, draw: float, jitter: float, seconds_left: int
) -> None:
    deadline = NOW + timedelta(seconds=seconds_left)
    at = next_check_at(policy(jitter=jitter), attempt, NOW, deadline, always(draw))
    assert at <= deadline
    assert at >= min(NOW, deadline)
