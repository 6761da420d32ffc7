"""Celery's Redis transport with one redis-py client per channel instead of one per
command.

kombu's Redis channel builds a new redis-py client object for every publish, task
event and acknowledgement; since redis-py 5 building one (its table of response
callbacks) costs more CPU than the command it then sends. A client is only a handle
on the channel's connection pool, safe to share between threads, so this channel
keeps one for as long as its pool lives (a reconnect makes a new pool, and so a new
client). Used for ``redis://`` brokers and, as :class:`SentinelTransport`, for
``sentinel://`` ones (see ``betguard.config.celery``).

When Redis goes away while a worker holds unacknowledged messages, kombu closes the
connection and then the channel, whose close asks for a client to hand the messages
back; kombu's own channel then fails with an ``AttributeError`` that stops the worker
for good. This channel raises a connection error instead, which kombu ignores there:
the worker reconnects, and the messages come back after Redis' visibility timeout
(the database is the truth all the same: sweeps find the bets they were about).
"""

from __future__ import annotations

from typing import Any

import redis
from kombu import transport as kombu_transport
from kombu.transport import redis as kombu_redis


class Channel(kombu_redis.Channel):
    _shared_client: Any = None

    def _create_client(self, asynchronous: bool = False) -> Any:
        if self.connection.client is None:  # closed under this channel (see above)
            raise redis.ConnectionError("the broker connection is already closed")
        if asynchronous:
            return super()._create_client(asynchronous=True)  # type: ignore[no-untyped-call]
        client = self._shared_client
        if client is None or client.connection_pool is not self.pool:
            client = self._shared_client = super()._create_client()  # type: ignore[no-untyped-call]
        return client


class SentinelChannel(Channel, kombu_redis.SentinelChannel):
    """The same, for a broker whose master Redis Sentinel names: the pool it shares is the
    Sentinel-managed one, which finds the new master after a failover."""


class Transport(kombu_redis.Transport):
    Channel = Channel


class SentinelTransport(kombu_redis.SentinelTransport):
    Channel = SentinelChannel


def register_sentinel_alias() -> None:
    """Make ``sentinel://`` name :class:`SentinelTransport`. A Sentinel broker URL lists
    every sentinel (joined by ``;``), and kombu fails over between them by URL: each
    switch names the transport by the URL's scheme, overriding the one configured, so
    without the alias a worker would reconnect after a failover on kombu's own channel
    (and lose the fix above). Called by the Celery app before any connection."""
    kombu_transport.TRANSPORT_ALIASES["sentinel"] = f"{__name__}:SentinelTransport"
