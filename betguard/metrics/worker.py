"""What a worker process does, counted in its memory and served on its own port.

Latencies and call outcomes exist only while they happen, so they are counted
where they happen. Counters live in prometheus_client's default registry, which
also carries the process' own figures (CPU, memory, start time).

Only a worker that runs its tasks in its own process (``-P threads`` or ``solo``,
as the provider worker does) should serve them: under prefork the tasks run in
children whose counters the parent's port never sees.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from enum import StrEnum

from prometheus_client import Counter, Histogram, start_http_server

from betguard.metrics import specs

log = logging.getLogger(__name__)

# Provider calls take milliseconds when well, up to the read timeout (plus
# tenacity's retries) when not.
CALL_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
ERROR = "error"  # the outcome counted when the service call raised


def _counter(spec: specs.Spec) -> Counter:
    return Counter(spec.name, spec.help, spec.labels)


CHECKS = _counter(specs.CHECKS)
NOTIFICATION_DELIVERIES = _counter(specs.NOTIFICATION_DELIVERIES)
REFUND_ATTEMPTS = _counter(specs.REFUND_ATTEMPTS)
PROVIDER_FALLBACKS = _counter(specs.PROVIDER_FALLBACKS)
PROVIDER_ANSWER_PROBLEMS = _counter(specs.PROVIDER_ANSWER_PROBLEMS)
PROVIDER_CALL_SECONDS = Histogram(specs.PROVIDER_CALLS.name, specs.PROVIDER_CALLS.help,
                                  specs.PROVIDER_CALLS.labels, buckets=CALL_BUCKETS)


def counted(counter: Counter, run: Callable[[], StrEnum], **labels: str) -> str:
    """Run ``run`` and count the outcome it returns. An exception is counted as
    ``error`` and propagates: a task that crashes must show on a graph too."""
    try:
        outcome = run().value
    except Exception:
        counter.labels(outcome=ERROR, **labels).inc()
        raise
    counter.labels(outcome=outcome, **labels).inc()
    return outcome


def start_worker_metrics(port: int, *, address: str, pool: object = None) -> bool:
    """Serve this process' metrics on ``address:port``.

    A port that cannot be bound is logged, not raised: the worker's job is the
    bets, and Prometheus reports the missing target on its own (``up == 0``).
    """
    if pool is not None and "prefork" in _pool_name(pool):
        log.warning("metrics on a prefork worker show only its parent process; "
                    "serve them from a worker with -P threads or solo")
    try:
        start_http_server(port, addr=address)
    except OSError as exc:
        log.error("could not serve worker metrics on %s:%d: %s", address, port, exc)
        return False
    log.info("worker metrics served on http://%s:%d/metrics", address, port)
    return True


def _pool_name(pool: object) -> str:
    if isinstance(pool, str):
        return pool
    return f"{getattr(pool, '__module__', '')}.{getattr(pool, '__qualname__', '')}"
