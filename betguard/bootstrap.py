"""Build a process's context from its settings: database, provider clients, wallet."""

from __future__ import annotations

import gc
from collections.abc import Callable

import redis

from betguard.config.policies import ProviderPolicy
from betguard.config.settings import Settings, SettingsError
from betguard.metrics.guards import BREAKER_STATES, GUARD_METRICS
from betguard.metrics.instrumented import InstrumentedProvider
from betguard.metrics.worker import PROVIDER_ANSWER_PROBLEMS, PROVIDER_FALLBACKS
from betguard.models.store.db import Database
from betguard.models.store.topology import refuse_a_standby
from betguard.providers.base import Provider
from betguard.providers.breaker import RedisBreaker
from betguard.providers.bulkhead import RedisBulkhead
from betguard.providers.client_settings import ProviderClientSettings
from betguard.providers.fallback import set_fallback_hook
from betguard.providers.guard import GuardedProvider, call_lease
from betguard.providers.guard_redis import guard_client, refuse_an_unknown_master
from betguard.providers.notifier import HttpNotifier
from betguard.providers.problems import Problem
from betguard.providers.ratelimit import RedisRateLimiter
from betguard.providers.registry import build_provider
from betguard.providers.wallet import HttpWallet
from betguard.services.context import Context, OutboxPolicy, Scheduler, Timing


def settle_heap() -> None:
    """Once a long-running process (a worker, the API) has started: collect what start-up
    left behind, then keep the objects it made (modules, settings, engines, clients)
    out of every later collection. Otherwise each full collection walks them all again:
    a tenth of registering a batch of bets went into that."""
    gc.collect()
    gc.freeze()


def build_context(settings: Settings, scheduler: Scheduler, *,
                  db_pool_size: int = 10) -> Context:
    settings.validate_for_start()
    refuse_an_unknown_master(settings)
    db = Database(settings.database_url, pool_size=db_pool_size,
                  retry_seconds=settings.database_retry_seconds)
    refuse_a_standby(db.engine)
    context = Context(
        db=db,
        policies=settings.policies,
        providers=build_providers(settings),
        wallet=HttpWallet(base_url=settings.wallet_url, secret=settings.wallet_secret_value()),
        scheduler=scheduler,
        timing=Timing(
            check_lease=settings.check_lease,
            due_grace=settings.due_grace,
            refund_retry_delay=settings.refund_retry_delay,
            sweep_batch=settings.sweep_batch,
            sweep_backlog_limit=settings.sweep_backlog_limit,
        ),
        notifier=build_notifier(settings),
        outbox=OutboxPolicy(attempts=settings.notify_attempts,
                            retry_base=settings.notify_retry_base),
    )
    if context.notifier is not None:
        context.db.on_new_notifications = _wake_deliveries(context)
    return context


def _wake_deliveries(context: Context) -> Callable[[list[int]], None]:
    def wake(ids: list[int]) -> None:
        for notification_id in ids:
            context.scheduler.notify(notification_id, context.clock())

    return wake


def build_notifier(settings: Settings) -> HttpNotifier | None:
    if settings.notify_url is None:
        return None
    if settings.notify_secret is None:
        raise SettingsError("BETGUARD_NOTIFY_URL is set but BETGUARD_NOTIFY_SECRET is not")
    return HttpNotifier(url=settings.notify_url, secret=settings.notify_secret.get_secret_value())


# The longest the rate limiter waits for a slot (``RedisRateLimiter``'s max_wait).
RATE_WAIT = 30.0


def build_providers(settings: Settings) -> dict[str, Provider]:
    """One adapter per configured provider, each call timed for the worker's metrics,
    passing the provider's circuit breaker and taking one of its concurrency slots
    (both shared by every worker through Redis) and, where the policy sets a rate
    limit, every request taking a slot of that limit too. Answers served by a fallback
    base URL are counted in the worker's metrics."""
    set_fallback_hook(count_fallback)
    client = guard_client(settings)  # one Redis or Sentinel's master, bounded waits
    providers: dict[str, Provider] = {}
    for name, policy in settings.policies.items():
        throttle = None
        if policy.rate_limit is not None:
            throttle = RedisRateLimiter(client, key=f"betguard:rate:{name}",
                                        rate=policy.rate_limit, max_wait=RATE_WAIT).acquire
        client_settings = ProviderClientSettings(
            name=name,
            base_url=str(policy.base_url).rstrip("/"),
            secret=settings.provider_secret(name),
            supports_batch=policy.supports_batch,
            connect_timeout=policy.connect_timeout,
            read_timeout=policy.read_timeout,
            attempts=policy.http_attempts,
            throttle=throttle,
            fallback_urls=tuple(str(url).rstrip("/") for url in policy.fallback_urls),
            page_size=policy.feed_page_size,
            options=policy.options,
            report_problem=count_problem,
        )
        adapter = InstrumentedProvider(build_provider(policy.adapter, client_settings))
        providers[name] = guarded(adapter, client, policy)
    return providers


def count_fallback(provider: str, url: str) -> None:
    """The fallback hook: one more answer a provider's fallback base URL gave."""
    PROVIDER_FALLBACKS.labels(provider=provider).inc()


def count_problem(provider: str, problem: Problem) -> None:
    """The problem hook: one more thing in a provider's answer betguard could not take."""
    PROVIDER_ANSWER_PROBLEMS.labels(provider=provider, problem=problem.value).inc()


def guarded(adapter: Provider, client: redis.Redis, policy: ProviderPolicy) -> Provider:
    """``adapter`` behind its breaker and bulkhead, both in the worker's metrics."""
    name = policy.name
    breaker = RedisBreaker(client, key=f"betguard:breaker:{name}",
                           threshold=policy.breaker_failures, cooldown=policy.breaker_cooldown)
    bulkhead = RedisBulkhead(client, key=f"betguard:bulkhead:{name}",
                             limit=policy.max_concurrency)
    # A call may try every base URL in turn (the primary, then each fallback), each with
    # the policy's attempts: the slot's lease covers them all.
    urls = 1 + len(policy.fallback_urls)
    lease = call_lease(connect_timeout=policy.connect_timeout, read_timeout=policy.read_timeout,
                       attempts=policy.http_attempts * urls,
                       rate_wait=RATE_WAIT if policy.rate_limit is not None else 0.0)
    GUARD_METRICS.watch(name)
    BREAKER_STATES.watch(name, breaker)
    PROVIDER_FALLBACKS.labels(provider=name)  # at zero from the start, like the guards'
    for problem in Problem:
        PROVIDER_ANSWER_PROBLEMS.labels(provider=name, problem=problem.value)
    return GuardedProvider(adapter, bulkhead=bulkhead, breaker=breaker, lease=lease,
                           listener=GUARD_METRICS)
