"""What every ops command shares: the context built once and only when needed, the
record of what it woke up, and refusals shown as one line with exit code 1.

The context is built inside the command, never at import, so ``--help`` works in
an empty environment and a command that refuses its arguments touches nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import click
from pydantic import ValidationError
from sqlalchemy.exc import OperationalError

from betguard.bootstrap import build_context
from betguard.config.settings import SettingsError, get_settings
from betguard.messaging.app import app
from betguard.messaging.scheduler import CeleryScheduler
from betguard.models.domain.errors import BetguardError
from betguard.services.context import Context, Scheduler

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Wakeup:
    """A check, refund or notification delivery this command sent to the workers."""

    kind: str
    subject_id: int  # the bet's id; a notification's own id for deliveries
    ref: str
    at: datetime
    attempt: int | None = None

    def as_json(self) -> dict[str, Any]:
        id_key = "notification_id" if self.kind == "notification" else "bet_id"
        return {"kind": self.kind, id_key: self.subject_id, "ref": self.ref,
                "attempt": self.attempt, "at": self.at}


@dataclass
class RecordingScheduler:
    """Passes wake-ups on to the real scheduler and remembers them, so a command can
    say exactly what it dispatched (the sweep reports only counts)."""

    inner: Scheduler
    sent: list[Wakeup] = field(default_factory=list)

    def check(self, bet_id: int, attempt: int, at: datetime, *, label: str) -> None:
        self.sent.append(Wakeup("check", bet_id, label, at, attempt))
        self.inner.check(bet_id, attempt, at, label=label)

    def check_batch(self, provider: str, checks: list[tuple[int, int]], at: datetime) -> None:
        for bet_id, attempt in checks:
            self.sent.append(Wakeup("check", bet_id, f"{provider}/#{bet_id}", at, attempt))
        self.inner.check_batch(provider, checks, at)

    def refund(self, bet_id: int, at: datetime, *, label: str,
               attempt: int | None = None) -> None:
        self.sent.append(Wakeup("refund", bet_id, label, at, attempt))
        self.inner.refund(bet_id, at, label=label, attempt=attempt)

    def notify(self, notification_id: int, at: datetime) -> None:
        self.sent.append(Wakeup("notification", notification_id,
                                f"notification {notification_id}", at))
        self.inner.notify(notification_id, at)

    def backlog(self) -> int:
        return self.inner.backlog()


@dataclass(frozen=True)
class Ops:
    context: Context
    wakeups: RecordingScheduler


@contextmanager
def open_ops() -> Iterator[Ops]:
    """Build this invocation's context from the settings; dispose of its engine after."""
    settings = get_settings()
    wakeups = RecordingScheduler(CeleryScheduler.from_settings(app, settings))
    context = build_context(settings, wakeups)
    try:
        yield Ops(context, wakeups)
    finally:
        context.db.dispose()


def describe(exc: Exception) -> str:
    """One line for a refusal, whatever its own message looks like."""
    if isinstance(exc, OperationalError):
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "no connection"
        return f"database unavailable: {reason}"
    if isinstance(exc, ValidationError):
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                             for e in exc.errors(include_url=False))
        return f"invalid settings: {problems}"
    return " ".join(str(exc).split()) or type(exc).__name__


class OpsCommand(click.Command):
    """A command whose expected refusals (unknown bet, illegal transition, bad
    argument, unusable settings) are one ``error:`` line on stderr and exit code 1.
    click's own usage errors keep their exit code 2; bugs keep their traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (BetguardError, SettingsError, ValidationError, OperationalError) as exc:
            click.echo(f"error: {describe(exc)}", err=True)
            ctx.exit(1)


def json_option(command: F) -> F:
    decorate = click.option("--json", "as_json", is_flag=True,
                            help="Print machine-readable JSON instead of a table.")
    return decorate(command)
