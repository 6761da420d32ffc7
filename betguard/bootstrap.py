"""Build a process's context from its settings: database, provider clients, wallet."""

from __future__ import annotations

from config.settings import Settings
from models.db import Database
from providers.base import Provider
from providers.registry import build_provider
from providers.wallet import HttpWallet
from services.context import Context, Scheduler, Timing


def build_context(settings: Settings, scheduler: Scheduler) -> Context:
    settings.validate_for_start()
    return Context(
        db=Database(settings.database_url),
        policies=settings.policies,
        providers=build_providers(settings),
        wallet=HttpWallet(base_url=settings.wallet_url, secret=settings.wallet_secret_value()),
        scheduler=scheduler,
        timing=Timing(
            check_lease=settings.check_lease,
            due_grace=settings.due_grace,
            refund_retry_delay=settings.refund_retry_delay,
            sweep_batch=settings.sweep_batch,
        ),
    )


def build_providers(settings: Settings) -> dict[str, Provider]:
    return {
        name: build_provider(
            policy.adapter,
            name=name,
            base_url=str(policy.base_url).rstrip("/"),
            secret=settings.provider_secret(name),
            supports_batch=policy.supports_batch,
            connect_timeout=policy.connect_timeout,
            read_timeout=policy.read_timeout,
            attempts=policy.http_attempts,
        )
        for name, policy in settings.policies.items()
    }
