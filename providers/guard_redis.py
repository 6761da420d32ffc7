"""The redis-py client a process's guards share (breakers, bulkhead slots, rate limits):
one pool, to one Redis server or to the master Redis Sentinel names.

Every provider call asks Redis from its own thread, so a caller that finds every
connection in use waits for one (``BlockingConnectionPool``) instead of being refused
(redis-py's default pool refuses past its limit, and the call would be refused as
unguardable). Through Sentinel the pool asks the sentinels for the master's address
whenever it connects, and drops a connection that meets ``READONLY`` (a demoted master):
the next command connects to the promoted one.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis
from redis.sentinel import Sentinel, SentinelConnectionPool

from betguard.config.redis_target import MASTER_SETTING, SentinelTarget
from betguard.config.settings import Settings, SettingsError

REDIS_TIMEOUT = 5.0
GUARD_CONNECTIONS = 256  # Redis connections a worker process keeps for its provider calls


class BlockingSentinelPool(SentinelConnectionPool, redis.BlockingConnectionPool):
    """Sentinel's pool (finds the master) that waits for a free connection like
    ``BlockingConnectionPool``: the first base finds addresses, the second hands out
    connections."""


def guard_client(settings: Settings) -> redis.Redis:
    """The guards' client, with bounded waits everywhere: connecting, each command, and
    a free connection."""
    sentinel = settings.sentinel
    if sentinel is None:
        pool = redis.BlockingConnectionPool.from_url(
            redis_py_url(settings.broker_url), max_connections=GUARD_CONNECTIONS,
            timeout=REDIS_TIMEOUT, socket_timeout=REDIS_TIMEOUT,
            socket_connect_timeout=REDIS_TIMEOUT)
        return redis.Redis(connection_pool=pool)
    manager = Sentinel(
        list(sentinel.sentinels),
        sentinel_kwargs=sentinel.sentinel_kwargs(connect_timeout=REDIS_TIMEOUT,
                                                 socket_timeout=REDIS_TIMEOUT),
        password=sentinel.password, db=sentinel.db, socket_timeout=REDIS_TIMEOUT,
        socket_connect_timeout=REDIS_TIMEOUT)
    client: redis.Redis = manager.master_for(
        sentinel.master_name, connection_pool_class=BlockingSentinelPool,
        max_connections=GUARD_CONNECTIONS, timeout=REDIS_TIMEOUT)
    return client


def redis_py_url(broker_url: str) -> str:
    """kombu names a unix socket ``redis+socket://PATH?virtual_host=N``; redis-py ``unix://``."""
    if not broker_url.startswith("redis+socket://"):
        return broker_url
    path, _, query = broker_url.removeprefix("redis+socket://").partition("?")
    db = query.removeprefix("virtual_host=") or "0"
    return f"unix://{path}?db={db}"


def monitored_masters(sentinel: SentinelTarget) -> dict[str, dict[str, object]] | None:
    """What the first sentinel that answers monitors (``SENTINEL MASTERS``), by master
    name; None when none of them answers."""
    kwargs = sentinel.sentinel_kwargs(connect_timeout=REDIS_TIMEOUT, socket_timeout=REDIS_TIMEOUT)
    for host, port in sentinel.sentinels:
        try:
            with redis.Redis(host=host, port=port, decode_responses=True, **kwargs) as conn:
                masters: dict[str, dict[str, object]] = conn.sentinel_masters()
        except redis.RedisError:
            continue
        return masters
    return None


def refuse_an_unknown_master(settings: Settings) -> None:
    """Raise ``SettingsError`` when the sentinels answer and monitor no master of the
    configured name (a typo would otherwise look like an outage for ever); sentinels
    that cannot be reached now are left to the clients' own retries."""
    sentinel = settings.sentinel
    if sentinel is None:
        return
    masters = monitored_masters(sentinel)
    if masters is not None and sentinel.master_name not in masters:
        known = ", ".join(sorted(masters)) or "none"
        raise SettingsError(f"{MASTER_SETTING}={sentinel.master_name!r}: the sentinels "
                            f"monitor no master of that name (they monitor: {known})")


@dataclass(frozen=True)
class RedisReplica:
    address: str
    state: str  # "online" once it streams from the master
    lag_bytes: int  # replication stream the master sent that the replica has not taken


@dataclass(frozen=True)
class RedisServerFacts:
    address: str
    via: str  # "sentinel <master name>" or "REDIS_URL"
    role: str  # what the server says it is (ROLE): "master" unless misconfigured
    replicas: tuple[RedisReplica, ...]


def redis_facts(settings: Settings) -> RedisServerFacts:
    """The Redis server the guards' client reaches now, and its replicas, as the server
    itself reports them (``INFO replication``)."""
    client = guard_client(settings)
    try:
        info = client.info("replication")
        kwargs = client.connection_pool.connection_kwargs
        address = f"{kwargs.get('host', kwargs.get('path', '?'))}:{kwargs.get('port', '')}"
        pool = client.connection_pool
        if isinstance(pool, SentinelConnectionPool):
            host, port = pool.get_master_address()  # type: ignore[no-untyped-call]
            address = f"{host}:{port}"
    finally:
        client.close()
    sentinel = settings.sentinel
    via = f"sentinel {sentinel.master_name}" if sentinel is not None else "REDIS_URL"
    offset = int(info.get("master_repl_offset", 0))
    replicas = tuple(
        RedisReplica(f"{value['ip']}:{value['port']}", str(value.get("state", "?")),
                     max(0, offset - int(value.get("offset", 0))))
        for key, value in sorted(info.items())
        if key.startswith("slave") and isinstance(value, dict))
    return RedisServerFacts(address.rstrip(":"), via, str(info.get("role", "?")), replicas)
