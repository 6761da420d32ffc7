"""Which PostgreSQL server and Redis master the API reaches, at scrape time: the alerts
for a failover and for a standby or replica that falls behind read these
(monitoring/prometheus/alerts.yml; what each means: docs/high-availability.md).

The facts are those ``betguard doctor`` shows (``models/store/topology.py``,
``providers/guard_redis.py``); a part that cannot be reached is left out of the scrape
(its alert is the API's own ``up`` and the database figures' 503)."""

from __future__ import annotations

import logging
from collections.abc import Iterable

import redis
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.exc import DBAPIError

from betguard.config.settings import Settings
from betguard.metrics import specs
from betguard.models.store.db import Database
from betguard.models.store.topology import server_of
from betguard.providers.guard_redis import redis_facts

log = logging.getLogger(__name__)


def _family(spec: specs.Spec) -> GaugeMetricFamily:
    return GaugeMetricFamily(spec.name, spec.help, labels=list(spec.labels))


class TopologyCollector(Collector):
    def __init__(self, settings: Settings, db: Database) -> None:
        self._settings = settings
        self._db = db

    def collect(self) -> Iterable[Metric]:
        yield from self._database()
        yield from self._redis()

    def _database(self) -> list[Metric]:
        try:
            server = server_of(self._db.engine)
        except DBAPIError as exc:
            log.warning("/metrics: no database server to report (%s)", type(exc).__name__)
            return []
        if server is None:  # SQLite: no servers
            return []
        found = _family(specs.DATABASE_SERVER)
        found.add_metric([server.address, server.role], 1)
        standbys = _family(specs.DATABASE_STANDBYS)
        for state in ("sync", "async", "potential", "quorum"):
            standbys.add_metric([state], sum(s.sync_state == state for s in server.standbys))
        waits = _family(specs.DATABASE_COMMITS_WAIT)
        waits.add_metric([], 1 if server.synchronous_standby_names else 0)
        lag = _family(specs.DATABASE_STANDBY_LAG)
        for standby in server.standbys:
            if standby.lag_bytes is not None:
                lag.add_metric([standby.name], standby.lag_bytes)
        return [found, standbys, waits, lag]

    def _redis(self) -> list[Metric]:
        try:
            facts = redis_facts(self._settings)
        except redis.RedisError as exc:
            log.warning("/metrics: no Redis master to report (%s)", type(exc).__name__)
            return []
        master = _family(specs.REDIS_MASTER)
        master.add_metric([facts.address, facts.via], 1 if facts.role == "master" else 0)
        lag = _family(specs.REDIS_REPLICA_LAG)
        for replica in facts.replicas:
            lag.add_metric([replica.address], replica.lag_bytes)
        return [master, lag]
