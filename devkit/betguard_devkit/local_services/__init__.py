"""Start and stop real local PostgreSQL and Redis servers for tests, drills and the demo.

No Docker on these machines: we run the real binaries on loopback, each in its own
directory, with bounded waits and exit-time cleanup.
"""

from ._common import ServiceError, free_port
from .pg_install import ensure_postgres_installed, find_pg_bindir
from .pg_standby import PostgresPair, PostgresStandby
from .postgres import PostgresServer
from .redis import RedisServer, find_redis_server
from .sentinel import RedisSentinel, SentinelGroup

__all__ = [
    "PostgresPair",
    "PostgresServer",
    "PostgresStandby",
    "RedisSentinel",
    "RedisServer",
    "SentinelGroup",
    "ServiceError",
    "ensure_postgres_installed",
    "find_pg_bindir",
    "find_redis_server",
    "free_port",
]
