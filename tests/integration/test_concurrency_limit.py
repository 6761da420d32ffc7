"""The provider guards on a real Redis: the concurrency limit holds across threads and
frees the slot of a holder that died; the circuit breaker opens, refuses, lets one
trial through and closes, whoever asks."""

from __future__ import annotations

import contextlib
import secrets
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis

from betguard.providers.base import (
    GENERIC_CAPABILITIES,
    BetStatus,
    CancelOutcome,
    ProviderStatus,
)
from betguard.providers.breaker import Admission, Mode, RedisBreaker
from betguard.providers.bulkhead import RedisBulkhead
from betguard.providers.errors import (
    CircuitOpen,
    GuardUnavailable,
    ProviderBusy,
    ProviderUnavailable,
)
from betguard.providers.guard import GuardedProvider
from betguard_devkit.local_services import RedisServer, free_port
from tests.integration.harness import wait_until

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def client() -> Iterator[redis.Redis]:
    with RedisServer(base_dir=Path(tempfile.mkdtemp(prefix="betguard-guard-"))) as server:
        yield server.client()


def bulkhead(client: redis.Redis, limit: int, wait: float = 0.0) -> RedisBulkhead:
    return RedisBulkhead(client, key=f"test:bulkhead:{secrets.token_hex(4)}", limit=limit,
                         wait=wait)


def breaker(client: redis.Redis, threshold: int = 3, cooldown: float = 0.5) -> RedisBreaker:
    return RedisBreaker(client, key=f"test:breaker:{secrets.token_hex(4)}",
                        threshold=threshold, cooldown=cooldown)


def test_no_more_threads_than_the_limit_ever_hold_a_slot_at_once(client: redis.Redis) -> None:
    slots = bulkhead(client, limit=3, wait=30.0)
    lock = threading.Lock()
    in_flight, most, done = [0], [0], []

    def worker() -> None:
        for _ in range(10):
            with slots.slot(lease=30):
                with lock:
                    in_flight[0] += 1
                    most[0] = max(most[0], in_flight[0])
                time.sleep(0.005)
                with lock:
                    in_flight[0] -= 1
            done.append(1)

    threads = [threading.Thread(target=worker) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert len(done) == 120
    assert most[0] == 3
    assert slots.holders() == 0


def test_a_caller_finding_every_slot_taken_is_refused_without_taking_one(
    client: redis.Redis,
) -> None:
    slots = bulkhead(client, limit=2, wait=0.05)
    slots.acquire(lease=30)
    slots.acquire(lease=30)

    with pytest.raises(ProviderBusy):
        slots.acquire(lease=30)
    assert slots.holders() == 2


def test_a_released_slot_is_taken_by_the_next_caller(client: redis.Redis) -> None:
    slots = bulkhead(client, limit=1)
    slots.release(slots.acquire(lease=30))

    assert slots.acquire(lease=30)


def test_the_slot_of_a_holder_that_died_frees_itself_when_its_lease_runs_out(
    client: redis.Redis,
) -> None:
    slots = bulkhead(client, limit=1)
    slots.acquire(lease=0.5)  # never released: the worker holding it was killed
    with pytest.raises(ProviderBusy):
        slots.acquire(lease=30)

    def taken() -> bool:
        try:
            slots.acquire(lease=30)
        except ProviderBusy:
            return False
        return True

    wait_until(taken, 10)
    assert slots.holders() == 1


def test_the_breaker_opens_after_failures_in_a_row_from_many_threads_exactly_once(
    client: redis.Redis,
) -> None:
    shared = breaker(client, threshold=5, cooldown=30)
    openings: list[bool] = []
    threads = [threading.Thread(target=lambda: openings.append(shared.failed(lease=5)))
               for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert openings.count(True) == 1 and len(openings) == 12
    assert shared.mode() is Mode.OPEN
    assert shared.admit(trial_lease=5)[0] is Admission.REFUSE


def test_after_the_cooldown_one_trial_is_let_through_and_an_answer_closes_the_breaker(
    client: redis.Redis,
) -> None:
    shared = breaker(client, threshold=2, cooldown=0.3)
    for _ in range(2):
        shared.failed(lease=5)

    wait_until(lambda: shared.mode() is Mode.HALF_OPEN, 10)
    first, second = shared.admit(trial_lease=5)[0], shared.admit(trial_lease=5)[0]
    shared.answered()

    assert (first, second) == (Admission.TRIAL, Admission.REFUSE)
    assert shared.mode() is Mode.CLOSED and shared.admit(trial_lease=5)[0] is Admission.CALL


def test_a_failed_trial_opens_the_breaker_again(client: redis.Redis) -> None:
    shared = breaker(client, threshold=2, cooldown=0.3)
    for _ in range(2):
        shared.failed(lease=5)
    wait_until(lambda: shared.mode() is Mode.HALF_OPEN, 10)
    assert shared.admit(trial_lease=5)[0] is Admission.TRIAL

    assert shared.failed(lease=5) is True
    assert shared.mode() is Mode.OPEN


class Hanging:
    """A provider that holds every call until released, counting the calls in flight."""

    name, supports_batch = "hanging", False
    capabilities, feeds = GENERIC_CAPABILITIES, ()

    def __init__(self, hold: float) -> None:
        self.hold = hold
        self.lock = threading.Lock()
        self.in_flight = self.most = self.calls = 0

    def get_status(self, bet_ref: str, player_id: str = "") -> BetStatus:
        with self.lock:
            self.calls += 1
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
        time.sleep(self.hold)
        with self.lock:
            self.in_flight -= 1
        raise ProviderUnavailable("read timed out")

    def get_statuses(self, bet_refs: list[str]) -> dict[str, BetStatus]:
        return {ref: self.get_status(ref) for ref in bet_refs}

    def cancel(self, bet_ref: str, player_id: str = "") -> CancelOutcome:
        self.get_status(bet_ref)
        raise AssertionError("unreachable: every call fails")


def test_a_hanging_provider_holds_no_more_threads_than_its_limit_and_then_none(
    client: redis.Redis,
) -> None:
    inner = Hanging(hold=0.2)
    provider = GuardedProvider(inner, bulkhead=bulkhead(client, limit=2, wait=0.01),
                               breaker=breaker(client, threshold=3, cooldown=30), lease=5)
    errors: list[str] = []

    def check() -> None:
        try:
            provider.get_status("bet-1")
        except ProviderUnavailable as exc:
            errors.append(type(exc).__name__)

    for _ in range(4):  # rounds of 8 threads asking at once, like a worker's pool
        threads = [threading.Thread(target=check) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)

    assert inner.most == 2
    assert errors.count("ProviderUnavailable") == inner.calls <= 4
    assert {"ProviderBusy", "CircuitOpen"} <= set(errors)


def test_with_redis_unreachable_the_call_is_refused_and_the_provider_not_called() -> None:
    gone = redis.Redis(port=free_port(), socket_connect_timeout=1, socket_timeout=1)
    inner = Hanging(hold=0)
    provider = GuardedProvider(inner, bulkhead=bulkhead(gone, limit=2),
                               breaker=breaker(gone), lease=5)

    with pytest.raises(GuardUnavailable):
        provider.get_status("bet-1")
    assert inner.calls == 0


def test_with_the_breaker_open_calls_fail_without_waiting_for_a_slot(
    client: redis.Redis,
) -> None:
    shared = breaker(client, threshold=1, cooldown=30)
    shared.failed(lease=5)
    slots = bulkhead(client, limit=1)
    slots.acquire(lease=30)  # the only slot held by a hanging call
    provider = GuardedProvider(Hanging(hold=0), bulkhead=slots, breaker=shared,
                               lease=5)

    with pytest.raises(CircuitOpen):
        provider.get_status("bet-1")


class Answering(Hanging):
    """Answers every call at once (pending), counting the calls that reached it."""

    def get_status(self, bet_ref: str, player_id: str = "") -> BetStatus:
        with self.lock:
            self.calls += 1
        return BetStatus(bet_ref, ProviderStatus.PENDING)


def test_a_groups_call_waits_for_a_slot_freed_meanwhile_and_the_provider_still_refuses(
    client: redis.Redis,
) -> None:
    slots = bulkhead(client, limit=1)
    held = slots.acquire(lease=30)  # another group's call, answered 0.2 s later
    inner = Answering(hold=0)
    provider = GuardedProvider(inner, bulkhead=slots, breaker=breaker(client), lease=5)
    threading.Timer(0.2, slots.release, args=(held,)).start()

    with pytest.raises(ProviderBusy):
        provider.get_status("bet-1")  # refused at once, as a single check is
    with provider.for_group(slot_wait=5.0) as group:
        answer = group.get_status("bet-2")

    assert answer.status is ProviderStatus.PENDING and inner.calls == 1
    assert slots.holders() == 0, "the waiting call handed its slot back"


class Slow(Hanging):
    """Answers each call (pending) after holding it, counting the calls in flight."""

    def get_status(self, bet_ref: str, player_id: str = "") -> BetStatus:
        with contextlib.suppress(ProviderUnavailable):
            super().get_status(bet_ref, player_id)
        return BetStatus(bet_ref, ProviderStatus.PENDING)


def test_groups_handing_slots_on_between_their_calls_stay_within_the_limit_together(
    client: redis.Redis,
) -> None:
    slots = bulkhead(client, limit=4)
    inner = Slow(hold=0.02)
    provider = GuardedProvider(inner, bulkhead=slots, breaker=breaker(client), lease=5)
    held: list[int] = []

    def group() -> None:
        with provider.for_group(slot_wait=5.0) as view, \
                ThreadPoolExecutor(max_workers=3) as calls:
            list(calls.map(view.get_status, [f"bet-{n}" for n in range(12)]))
            held.append(slots.holders())

    with ThreadPoolExecutor(max_workers=2) as groups:
        list(groups.map(lambda _: group(), range(2)))

    assert inner.calls == 24 and inner.most <= 4, "two groups of 3 threads, 4 slots"
    assert max(held) <= 4 and slots.holders() == 0, "each group gave its slots back"


def test_a_groups_call_is_refused_when_no_slot_frees_up_within_its_wait(
    client: redis.Redis,
) -> None:
    slots = bulkhead(client, limit=1)
    slots.acquire(lease=30)  # a call that hangs
    inner = Answering(hold=0)
    provider = GuardedProvider(inner, bulkhead=slots, breaker=breaker(client), lease=5)

    with pytest.raises(ProviderBusy), provider.for_group(slot_wait=0.2) as group:
        group.get_status("bet-1")
    assert inner.calls == 0
