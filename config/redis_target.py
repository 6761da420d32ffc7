"""Where betguard's Redis is: one server (``REDIS_URL``), or the master a group of Redis
Sentinels names (``BETGUARD_REDIS_SENTINELS`` and ``BETGUARD_REDIS_MASTER_NAME``).

Through Sentinel, every client asks the sentinels which server is the master and goes
there; after a failover the sentinels name the promoted replica, and a client that
still talks to the demoted one gets ``READONLY`` and asks again (redis-py's
``SentinelManagedConnection``). The wire facts: Redis' own "High availability with
Redis Sentinel" page (sentinels, quorum, ``auth-pass``, ``requirepass`` for a
sentinel), kombu's ``SentinelChannel`` (``sentinel://`` URLs joined by ``;``,
``master_name`` and ``sentinel_kwargs`` in the transport options) and Celery's
``SentinelBackend`` (the same URL and options for results). docs/high-availability.md
says what survives a failover and what does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

SENTINELS_SETTING = "BETGUARD_REDIS_SENTINELS"
MASTER_SETTING = "BETGUARD_REDIS_MASTER_NAME"


def parse_sentinels(text: str) -> tuple[tuple[str, int], ...]:
    """``host:port,host:port,...`` as (host, port) pairs; a ValueError names what is wrong
    and the setting it came from."""
    found: list[tuple[str, int]] = []
    for entry in (part.strip() for part in text.split(",")):
        host, colon, port = entry.rpartition(":")
        if not entry or not colon or not host or not port.isascii() or not port.isdigit():
            raise ValueError(f"{SENTINELS_SETTING}: {entry!r} is not host:port "
                             "(e.g. 10.0.0.5:26379,10.0.0.6:26379,10.0.0.7:26379)")
        if not 0 < int(port) < 65536:
            raise ValueError(f"{SENTINELS_SETTING}: port {port} of {entry!r} is out of range")
        pair = (host.strip("[]"), int(port))
        if pair in found:
            raise ValueError(f"{SENTINELS_SETTING}: {entry!r} is listed twice")
        found.append(pair)
    return tuple(found)


@dataclass(frozen=True)
class SentinelTarget:
    """The Redis master the sentinels name ``master_name``."""

    sentinels: tuple[tuple[str, int], ...]
    master_name: str
    password: str | None = None  # the Redis servers' own (requirepass / masterauth)
    sentinel_password: str | None = None  # the sentinels' (their requirepass), if any
    db: int = 0

    def kombu_url(self) -> str:
        """The broker and result-backend URL: one ``sentinel://`` per sentinel, joined by
        ``;`` (kombu and Celery read the Redis password from the first)."""
        auth = f":{quote(self.password, safe='')}@" if self.password else ""
        return ";".join(f"sentinel://{auth}{_host(host)}:{port}/{self.db}"
                        for host, port in self.sentinels)

    def sentinel_kwargs(self, *, connect_timeout: float, socket_timeout: float,
                        ) -> dict[str, Any]:
        """How to speak to the sentinels themselves: their password, and timeouts (given
        any keyword of its own, redis-py no longer copies the servers' timeouts, and a
        wedged sentinel would hold a client for ever)."""
        kwargs: dict[str, Any] = {"socket_connect_timeout": connect_timeout,
                                  "socket_timeout": socket_timeout}
        if self.sentinel_password:
            kwargs["password"] = self.sentinel_password
        return kwargs

    def transport_options(self, *, connect_timeout: float, socket_timeout: float,
                          ) -> dict[str, Any]:
        """What kombu's and Celery's Sentinel clients need beside the URL."""
        return {"master_name": self.master_name,
                "sentinel_kwargs": self.sentinel_kwargs(connect_timeout=connect_timeout,
                                                        socket_timeout=socket_timeout)}

    def describe(self) -> str:
        """For messages and logs: the master's name and the sentinels, no password."""
        listed = ",".join(f"{_host(host)}:{port}" for host, port in self.sentinels)
        return f"master {self.master_name!r} through sentinels {listed}"


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
