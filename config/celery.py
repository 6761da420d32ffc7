"""Celery configuration, the same for every client: workers, beat, intake and Flower."""

from __future__ import annotations

from typing import Any

from betguard.config.settings import Settings

DEFAULT_QUEUE = "betguard.default"
PROVIDER_QUEUE = "betguard.provider"  # provider and wallet calls: served by an I/O pool

CHECK_TASK = "betguard.check"
BATCH_CHECK_TASK = "betguard.check_batch"
REFUND_TASK = "betguard.refund"
PLACE_TASK = "betguard.place"
SWEEP_TASK = "betguard.sweep"
NOTIFY_TASK = "betguard.notify"
FEED_TASK = "betguard.pull_feeds"  # pull every history feed that is due (tasks/feeds.py)
RECONCILE_TASK = "betguard.reconcile"  # reconcile every provider that is due (tasks/reconcile.py)
GAMES_TASK = "betguard.watch_games"  # pause and resume games with unreturned bets (tasks/games.py)
# Answered by the worker that takes it from its own queue: proof that it consumes (tasks/health.py).
HEALTH_TASK = "betguard.health"

CONNECT_TIMEOUT = 2.0  # seconds to open a connection to Redis
SOCKET_TIMEOUT = 10.0  # seconds a command may wait on an open connection
# Storing or subscribing to a result (only ``place`` has one) when Redis is away.
BACKEND_RETRY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2,
                 "interval_max": 0.2}


def celery_config(settings: Settings) -> dict[str, Any]:
    broker = settings.broker_url
    # One visibility timeout for every client: a message not acked within it is
    # delivered again, so countdowns stay well below it (settings enforce that).
    transport = {"visibility_timeout": settings.visibility_timeout}
    # Bounded waits when Redis is away: connecting gives up after CONNECT_TIMEOUT and no
    # command waits forever on a dead socket; the sweeps dispatch what could not be
    # published. The workers' own reconnect loop (broker_connection_max_retries) is not
    # affected. Processes that answer requests also give up at the first refusal
    # (``fail_fast_publishing``).
    fail_fast = {"socket_connect_timeout": CONNECT_TIMEOUT, "socket_timeout": SOCKET_TIMEOUT}
    broker_transport = {**transport, **fail_fast}
    backend_transport = {**transport, "retry_policy": BACKEND_RETRY}
    # Plain TCP Redis gets the transport that reuses its client
    # (betguard/messaging/transport.py); TLS and unix-socket URLs keep kombu's own.
    client_reuse = {"broker_transport": "betguard.messaging.transport:Transport"} \
        if broker.startswith("redis://") else {}
    sentinel = settings.sentinel
    if sentinel is not None:  # the sentinels name the master (config/redis_target.py)
        timeouts = {"connect_timeout": CONNECT_TIMEOUT, "socket_timeout": SOCKET_TIMEOUT}
        broker_transport |= sentinel.transport_options(**timeouts)
        backend_transport |= sentinel.transport_options(**timeouts)
        client_reuse = {"broker_transport": "betguard.messaging.transport:SentinelTransport"}
    return {
        **client_reuse,
        "broker_url": broker,
        "broker_transport_options": broker_transport,
        "broker_connection_timeout": CONNECT_TIMEOUT,
        "result_backend": broker,
        "result_backend_transport_options": backend_transport,
        "redis_socket_connect_timeout": CONNECT_TIMEOUT,
        "redis_socket_timeout": SOCKET_TIMEOUT,
        "result_expires": 24 * 3600,
        "task_ignore_result": True,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "broker_connection_retry_on_startup": True,
        "task_default_queue": DEFAULT_QUEUE,
        "task_routes": {
            CHECK_TASK: {"queue": PROVIDER_QUEUE},
            BATCH_CHECK_TASK: {"queue": PROVIDER_QUEUE},
            REFUND_TASK: {"queue": PROVIDER_QUEUE},
            NOTIFY_TASK: {"queue": PROVIDER_QUEUE},
            FEED_TASK: {"queue": PROVIDER_QUEUE},
            RECONCILE_TASK: {"queue": PROVIDER_QUEUE},
        },
        "task_time_limit": 300,
        "task_soft_time_limit": 240,
        "task_send_sent_event": True,
        "worker_send_task_events": True,
        # Each worker also consumes a queue of its own (<name>.dq2), so a health check can
        # prove that this worker takes tasks, not only that it answers remote control.
        "worker_direct": True,
        "timezone": "UTC",
        "enable_utc": True,
        "beat_schedule": {
            "sweep": {"task": SWEEP_TASK, "schedule": settings.sweep_interval},
            # Each run does only what is due (per provider policy, read from the database),
            # so beat may tick often: a lost or repeated tick changes nothing.
            "pull-feeds": {"task": FEED_TASK, "schedule": settings.sweep_interval},
            "reconcile": {"task": RECONCILE_TASK, "schedule": settings.sweep_interval},
            "watch-games": {"task": GAMES_TASK, "schedule": settings.sweep_interval},
        },
    }


def fail_fast_publishing(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` for a process that publishes while answering a request (the HTTP API):
    a connection Redis refuses is given up at once instead of retried for seconds, so
    intake answers in milliseconds with Redis down. Workers keep the default: their
    consumer shares the connection's retry behaviour."""
    transport = {**config["broker_transport_options"], "max_retries": 0}
    return {**config, "broker_transport_options": transport}
