"""What a service function needs from the world, passed in (never imported globals)."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from betguard.config.policies import ProviderPolicy
from betguard.models.domain.errors import UnknownProvider
from betguard.models.store.db import Database
from betguard.providers.base import Provider, Wallet


def utcnow() -> datetime:
    return datetime.now(UTC)


class Scheduler(Protocol):
    """Wakes workers up. Called only after commit; must not raise (the sweeps back it up)."""

    def check(self, bet_id: int, attempt: int, at: datetime, *, label: str) -> None: ...

    def check_batch(self, provider: str, checks: list[tuple[int, int]], at: datetime) -> None:
        """Wake one batched check of ``(bet id, attempt)`` pairs of one provider."""

    def refund(self, bet_id: int, at: datetime, *, label: str,
               attempt: int | None = None) -> None:
        """Wake the bet's refund; ``attempt`` is the attempt number it holds now (a
        duplicate or stale delivery is then only counted)."""

    def notify(self, notification_id: int, at: datetime) -> None: ...

    def backlog(self) -> int:
        """Wake-ups published for immediate work and not yet taken by a worker (0 when
        the broker cannot say)."""


class Notifier(Protocol):
    """Tells the game server about one event; raises ``NotificationFailed`` unless confirmed."""

    def send(self, event_id: str, body: bytes) -> None: ...


@dataclass(frozen=True)
class OutboxPolicy:
    attempts: int = 8  # then the notification is a dead letter
    retry_base: float = 5.0  # seconds before the second attempt; doubles after each


@dataclass(frozen=True)
class Timing:
    """Durations (seconds) that the pipeline's safety nets depend on."""

    check_lease: float = 120.0  # a claimed check not finished by then is dispatched again
    due_grace: float = 10.0  # how late a wake-up may be before the sweep sends another
    refund_retry_delay: float = 30.0
    sweep_batch: int = 1000
    # Sweeps add nothing while this many wake-ups already wait for a worker: a backed-up
    # queue holds late wake-ups, not lost ones, and sending more only makes them later.
    sweep_backlog_limit: int = 1000


@dataclass
class Context:
    db: Database
    policies: Mapping[str, ProviderPolicy]
    providers: Mapping[str, Provider]
    wallet: Wallet
    scheduler: Scheduler
    timing: Timing = field(default_factory=Timing)
    clock: Callable[[], datetime] = utcnow
    draw: Callable[[], float] = random.random
    notifier: Notifier | None = None  # None: the game server is not told (no URL configured)
    outbox: OutboxPolicy = field(default_factory=OutboxPolicy)

    def policy(self, provider: str) -> ProviderPolicy:
        try:
            return self.policies[provider]
        except KeyError:
            known = ", ".join(sorted(self.policies)) or "none"
            raise UnknownProvider(f"unknown provider {provider!r} (known: {known})") from None
