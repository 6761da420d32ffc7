"""The shared provider rate limit: each request reserves its own slot on Redis' clock, so
callers waiting at the same time are spaced out, never sent together."""

from __future__ import annotations

import secrets
import socket
import time

import pytest
import redis

from betguard.providers.errors import GuardUnavailable
from betguard.providers.ratelimit import RateLimited, RedisRateLimiter
from tests.integration.harness import Stack

pytestmark = pytest.mark.integration


def limiter(stack: Stack, rate: float, waits: list[float],
            max_wait: float = 30.0) -> RedisRateLimiter:
    client = redis.Redis.from_url(stack.redis.url)
    return RedisRateLimiter(client, key=f"test:rate:{secrets.token_hex(4)}", rate=rate,
                            max_wait=max_wait, sleep=waits.append)


def test_callers_arriving_together_are_given_slots_one_interval_apart(stack: Stack) -> None:
    waits: list[float] = []
    slots = limiter(stack, rate=10, waits=waits)
    slot_times = []

    for _ in range(5):
        asked = time.monotonic()
        before = len(waits)
        slots.acquire()
        slot_times.append(asked + (waits[-1] if len(waits) > before else 0.0))

    assert len(waits) == 4  # the first goes at once, the others are told to wait
    steps = [later - earlier for earlier, later in zip(slot_times, slot_times[1:], strict=False)]
    assert all(abs(step - 0.105) < 0.02 for step in steps), steps


def test_a_caller_whose_slot_is_too_far_away_is_refused_without_taking_it(stack: Stack) -> None:
    waits: list[float] = []
    slots = limiter(stack, rate=1, waits=waits, max_wait=1.5)
    slots.acquire()
    slots.acquire()  # one second away: waits for it

    with pytest.raises(RateLimited):
        slots.acquire()  # two seconds away: refused
    assert len(waits) == 1 and 0.95 < waits[0] <= 1.05


def test_a_caller_that_wakes_up_long_after_its_slot_takes_a_fresh_one(stack: Stack) -> None:
    now = [0.0]
    waits: list[float] = []

    def oversleep(seconds: float) -> None:  # the first wait overruns by 100 ms
        waits.append(seconds)
        now[0] += seconds + (0.1 if len(waits) == 1 else 0.0)

    client = redis.Redis.from_url(stack.redis.url)
    slots = RedisRateLimiter(client, key=f"test:rate:{secrets.token_hex(4)}", rate=10,
                             sleep=oversleep, clock=lambda: now[0])
    slots.acquire()  # takes the first slot at once
    slots.acquire()  # waits about 105 ms, wakes 100 ms late: gives the slot up

    assert len(waits) == 2



def test_a_caller_held_up_on_its_way_back_from_redis_takes_a_fresh_slot(stack: Stack) -> None:
    """The slot is counted from before the reservation: a caller that hears its slot
    100 ms after Redis reserved it (a busy worker) does not send on it as if on time."""
    now = [0.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    client = redis.Redis.from_url(stack.redis.url)
    slots = RedisRateLimiter(client, key=f"test:rate:{secrets.token_hex(4)}", rate=10,
                             sleep=sleep, clock=lambda: now[0])
    reserve = slots._script
    held_up = [0.0, 0.1, 0.0]  # the second reservation reaches its caller 100 ms late

    def slow_reserve(**kwargs: object) -> object:
        answer = reserve(**kwargs)
        now[0] += held_up.pop(0) if held_up else 0.0
        return answer

    slots._script = slow_reserve  # type: ignore[assignment]
    slots.acquire()  # the first slot, at once
    slots.acquire()  # told to wait ~105 ms for a slot that began 100 ms before it heard

    assert len(waits) == 2, "the late slot was given up for a fresh one"


def test_a_rate_limit_that_cannot_be_consulted_sends_nothing_and_says_so() -> None:
    with socket.socket() as free:  # a port nobody listens on: Redis refuses at once
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1)
    slots = RedisRateLimiter(client, key="test:rate:unreachable", rate=10)

    with pytest.raises(GuardUnavailable, match="the rate limit test:rate:unreachable cannot "
                                               "be consulted .ConnectionError.: not called"):
        slots.acquire()
