"""The provider guards (bulkhead and circuit breaker) in the worker's metrics.

Refusals and openings are counted where they happen. The breaker's state lives in
Redis, shared by every worker, so it is read from there at scrape time: a provider
nobody calls any more still shows the state it is really in.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import redis
from prometheus_client import REGISTRY, Counter
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from betguard.metrics import specs
from betguard.providers.breaker import RedisBreaker
from betguard.providers.guard import Refusal

log = logging.getLogger(__name__)

REJECTIONS = Counter(specs.PROVIDER_REJECTIONS.name, specs.PROVIDER_REJECTIONS.help,
                     specs.PROVIDER_REJECTIONS.labels)
OPENINGS = Counter(specs.BREAKER_OPENINGS.name, specs.BREAKER_OPENINGS.help,
                   specs.BREAKER_OPENINGS.labels)


class GuardMetrics:
    """Counts what the guards of this process refused and opened."""

    def watch(self, provider: str) -> None:
        """Start each series of ``provider`` at zero, so rates and alerts see it from the
        start rather than from its first refusal."""
        for reason in Refusal:
            REJECTIONS.labels(provider, reason.value)
        OPENINGS.labels(provider)

    def refused(self, provider: str, reason: Refusal) -> None:
        REJECTIONS.labels(provider, reason.value).inc()

    def opened(self, provider: str) -> None:
        OPENINGS.labels(provider).inc()


class BreakerStates(Collector):
    """``betguard_provider_breaker_state`` per provider, read from Redis on each scrape."""

    def __init__(self) -> None:
        self._breakers: dict[str, RedisBreaker] = {}

    def watch(self, provider: str, breaker: RedisBreaker) -> None:
        self._breakers[provider] = breaker

    def describe(self) -> Iterable[Metric]:
        return [self._family()]

    def collect(self) -> Iterable[Metric]:
        family = self._family()
        for provider, breaker in sorted(self._breakers.items()):
            try:
                family.add_metric([provider], int(breaker.mode()))
            except redis.RedisError as exc:  # no sample: a gap, not a made-up state
                log.warning("breaker state of %s not read: %s", provider, exc)
        return [family]

    @staticmethod
    def _family() -> GaugeMetricFamily:
        spec = specs.BREAKER_STATE
        return GaugeMetricFamily(spec.name, spec.help, labels=list(spec.labels))


GUARD_METRICS = GuardMetrics()
BREAKER_STATES = BreakerStates()
REGISTRY.register(BREAKER_STATES)
