"""A Redis that took over from another may lack the last slots and reservations the old
master granted (replication is asynchronous). The bulkhead and the rate limiter then fail
closed: no more calls in flight, no more requests a second, than the provider's limit,
until everything the old master granted is over. Real redis-server processes: a master
and a replica, the replica cut off (REPLICAOF NO ONE) just before the master's last
grants, as a failover in that moment would leave it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from betguard.providers.bulkhead import RedisBulkhead
from betguard.providers.errors import ProviderBusy
from betguard.providers.ratelimit import RateLimited, RedisRateLimiter
from betguard_devkit.local_services import RedisServer
from tests.integration.harness import wait_until

pytestmark = pytest.mark.integration

LEASE = 1.5  # seconds a slot is leased for
KEY = "betguard:bulkhead:acme"


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[RedisServer, RedisServer]]:
    master = RedisServer(base_dir=tmp_path / "a").start()
    replica = RedisServer(base_dir=tmp_path / "b", replica_of=master.address).start()
    try:
        wait_until(replica.synced, 20, lambda: "the replica never synced")
        yield master, replica
    finally:
        replica.stop()
        master.stop()


def replicated(master: RedisServer) -> None:
    """Everything the master has written so far is on its replica."""
    with master.client() as conn:
        assert conn.execute_command("WAIT", 1, 5000) == 1


def promote(replica: RedisServer) -> redis.Redis:
    """The replica takes over (as Sentinel would promote it): a master of its own."""
    conn = replica.client()
    conn.execute_command("REPLICAOF", "NO", "ONE")
    return conn


def test_a_promoted_replica_that_missed_the_last_slots_grants_none_until_the_leases_end(
    pair: tuple[RedisServer, RedisServer],
) -> None:
    master, replica = pair
    on_master = RedisBulkhead(master.client(), key=KEY, limit=2)
    on_master.acquire(lease=LEASE)
    replicated(master)
    promoted = promote(replica)  # the failover happens here...
    on_master.acquire(lease=LEASE)  # ...and the old master's last grant never arrives
    started = time.monotonic()
    on_promoted = RedisBulkhead(promoted, key=KEY, limit=2)

    assert on_promoted.holders() == 1  # it knows of one call in flight; two are
    with pytest.raises(ProviderBusy, match="new Redis master"):
        on_promoted.acquire(lease=LEASE)  # a second would make three
    token = on_promoted.acquire(lease=LEASE, wait=LEASE + 2)  # once the leases are over

    assert time.monotonic() - started >= LEASE - 0.1
    on_promoted.release(token)
    assert on_promoted.acquire(lease=LEASE)  # and from then on, as usual


def test_a_new_redis_grants_slots_at_once_to_callers_that_saw_no_other(
    tmp_path: Path,
) -> None:
    with RedisServer(base_dir=tmp_path / "fresh") as server:
        bulkhead = RedisBulkhead(server.client(), key=KEY, limit=2)
        bulkhead.acquire(lease=LEASE)
        bulkhead.acquire(lease=LEASE)
        with pytest.raises(ProviderBusy, match="all 2 concurrency slots"):
            bulkhead.acquire(lease=LEASE)  # full is full, as before


def test_a_redis_that_lost_everything_holds_once_a_caller_that_saw_the_old_one_asks(
    tmp_path: Path,
) -> None:
    with RedisServer(base_dir=tmp_path / "wiped") as server:
        seen = RedisBulkhead(server.client(), key=KEY, limit=2)
        seen.acquire(lease=LEASE)
        seen.acquire(lease=LEASE)  # both slots in use...
        server.restart(wipe=True)  # ...and forgotten

        with pytest.raises(ProviderBusy, match="new Redis master"):
            seen.acquire(lease=LEASE)
        newcomer = RedisBulkhead(server.client(), key=KEY, limit=2)
        with pytest.raises(ProviderBusy, match="new Redis master"):
            newcomer.acquire(lease=LEASE)  # the hold is the server's, whoever asks
        assert newcomer.acquire(lease=LEASE, wait=LEASE + 2)


def test_the_same_master_after_its_own_grants_is_no_new_epoch(
    pair: tuple[RedisServer, RedisServer],
) -> None:
    master, _ = pair
    bulkhead = RedisBulkhead(master.client(), key=KEY, limit=3)
    tokens = [bulkhead.acquire(lease=LEASE) for _ in range(3)]
    bulkhead.release_many(tokens)
    assert bulkhead.acquire(lease=LEASE)


def test_a_promoted_replica_sends_no_request_on_a_slot_the_old_master_reserved(
    pair: tuple[RedisServer, RedisServer],
) -> None:
    master, replica = pair
    rate = 4.0  # a slot every 0.26 s
    on_master = RedisRateLimiter(master.client(), key="betguard:rate:acme", rate=rate,
                                 max_wait=1.0)
    on_master.acquire()
    replicated(master)
    promoted = promote(replica)
    on_master.acquire()  # reserved on the old master only: sent within the next 0.3 s

    impatient = RedisRateLimiter(promoted, key="betguard:rate:acme", rate=rate, max_wait=0.2)
    with pytest.raises(RateLimited):
        impatient.acquire()  # the next free slot is past everything the old master gave
    started = time.monotonic()
    RedisRateLimiter(promoted, key="betguard:rate:acme", rate=rate, max_wait=3.0).acquire()

    assert time.monotonic() - started >= 0.5  # past the old master's horizon (1 s)
