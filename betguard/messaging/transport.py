"""Celery's Redis transport with one redis-py client per channel instead of one per
command.

kombu's Redis channel builds a new redis-py client object for every publish, task
event and acknowledgement; since redis-py 5 building one (its table of response
callbacks) costs more CPU than the command it then sends. A client is only a handle
on the channel's connection pool, safe to share between threads, so this channel
keeps one for as long as its pool lives (a reconnect makes a new pool, and so a new
client). Used for ``redis://`` brokers (see ``betguard.config.celery``).
"""

from __future__ import annotations

from typing import Any

from kombu.transport import redis as kombu_redis


class Channel(kombu_redis.Channel):
    _shared_client: Any = None

    def _create_client(self, asynchronous: bool = False) -> Any:
        if asynchronous:
            return super()._create_client(asynchronous=True)  # type: ignore[no-untyped-call]
        client = self._shared_client
        if client is None or client.connection_pool is not self.pool:
            client = self._shared_client = super()._create_client()  # type: ignore[no-untyped-call]
        return client


class Transport(kombu_redis.Transport):
    Channel = Channel
