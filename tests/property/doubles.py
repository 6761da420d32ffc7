"""Test doubles around the real services: a clock the test advances, a scheduler that
records wake-ups instead of publishing them (the test plays the broker), and wrappers
around the real provider and wallet clients that probe the database during each call
and can run one meddling action while a call is in flight."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

from sqlalchemy import select, text

from betguard.models.store.db import Database
from betguard.models.store.tables import Bet
from betguard.providers.base import BetStatus, CancelOutcome, Provider, RefundReceipt, Wallet

WakeupKind = Literal["check", "refund"]
Call = Literal["status", "cancel", "refund"]
WakeupStatus = Literal["queued", "delivered", "lost"]

OPEN_TRANSACTIONS = text(
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
    "AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()"
)


class Clock:
    """The services' only source of time; it moves when the test says so."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def reach(self, moment: datetime) -> None:
        """A wake-up is delivered at its time at the earliest; time never runs backwards."""
        self.now = max(self.now, moment)


@dataclass
class Wakeup:
    seq: int
    kind: WakeupKind
    bet_id: int
    attempt: int | None
    at: datetime
    status: WakeupStatus = "queued"

    def __str__(self) -> str:
        attempt = "" if self.attempt is None else f" attempt {self.attempt}"
        return f"#{self.seq} {self.kind} of bet {self.bet_id}{attempt} ({self.status})"


class RecordingScheduler:
    """The broker, played by the test: every wake-up is stored; the test delivers,
    repeats or loses them. Publishing checks that the bet was committed first."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.wakeups: list[Wakeup] = []
        self.problems: list[str] = []

    def check(self, bet_id: int, attempt: int, at: datetime, *, label: str) -> None:
        self._publish(Wakeup(len(self.wakeups), "check", bet_id, attempt, at), label)

    def check_batch(self, provider: str, checks: list[tuple[int, int]], at: datetime) -> None:
        """Only providers that answer in batches get these; each check in it is a wake-up
        of its own here (a delivery runs the single check, which claims the same way)."""
        for bet_id, attempt in checks:
            self.check(bet_id, attempt, at, label=f"{provider}/bet {bet_id}")

    def refund(self, bet_id: int, at: datetime, *, label: str,
               attempt: int | None = None) -> None:
        self._publish(Wakeup(len(self.wakeups), "refund", bet_id, attempt, at), label)

    def notify(self, notification_id: int, at: datetime) -> None:
        """The game server is not told in these tests (``notifier=None``)."""

    def backlog(self) -> int:
        return len(self.queued())

    def of(self, kind: WakeupKind, *statuses: WakeupStatus) -> list[Wakeup]:
        return [w for w in self.wakeups if w.kind == kind and w.status in statuses]

    def queued(self) -> list[Wakeup]:
        return [w for w in self.wakeups if w.status == "queued"]

    def _publish(self, wakeup: Wakeup, label: str) -> None:
        with self.db.unit_of_work() as session:
            row = session.execute(
                select(Bet.state, Bet.check_attempt).where(Bet.id == wakeup.bet_id)
            ).one_or_none()
        state = "pending" if wakeup.kind == "check" else "refund_pending"
        expected = (state, wakeup.attempt)
        found = None if row is None else tuple(row)[: len(expected)]
        if found != expected:
            self.problems.append(
                f"{label}: {wakeup} published while the committed bet is {found}, not {expected}"
            )
        self.wakeups.append(wakeup)


class Meddler:
    """Holds at most one action to run while the next call of one kind (a status query,
    a cancel, a refund) is in flight: after its answer arrived, before betguard acts on
    it. Checks that no transaction of the property database is open across any call."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.action: Callable[[], None] | None = None
        self.call: Call = "status"
        self.problems: list[str] = []

    def arm(self, action: Callable[[], None], call: Call) -> None:
        self.action, self.call = action, call

    def disarm(self) -> bool:
        """Forget an action that never ran; True if it had not run."""
        unused, self.action = self.action is not None, None
        return unused

    def before_call(self, what: str) -> None:
        with self.db.engine.connect() as connection:
            open_transactions = connection.execute(OPEN_TRANSACTIONS).scalar_one()
            connection.rollback()
        if open_transactions:
            self.problems.append(f"{what}: {open_transactions} transaction(s) open during the call")

    def after_answer(self, call: Call) -> None:
        if call != self.call:
            return
        action, self.action = self.action, None
        if action is not None:
            action()


class MeddledProvider:
    """A real provider client, watched by a ``Meddler``."""

    def __init__(self, inner: Provider, meddler: Meddler) -> None:
        self.inner = inner
        self.meddler = meddler
        self.name = inner.name
        self.supports_batch = inner.supports_batch
        self.capabilities = inner.capabilities
        self.feeds = inner.feeds

    def get_status(self, bet_ref: str, player_id: str = "") -> BetStatus:
        self.meddler.before_call(f"status of {bet_ref}")
        answer = self.inner.get_status(bet_ref, player_id)
        self.meddler.after_answer("status")
        return answer

    def get_statuses(self, bet_refs: list[str]) -> dict[str, BetStatus]:
        self.meddler.before_call(f"statuses of {bet_refs}")
        return self.inner.get_statuses(bet_refs)

    def cancel(self, bet_ref: str, player_id: str = "") -> CancelOutcome:
        self.meddler.before_call(f"cancel of {bet_ref}")
        outcome = self.inner.cancel(bet_ref, player_id)
        self.meddler.after_answer("cancel")
        return outcome


class MeddledWallet:
    """The real wallet client, watched by a ``Meddler``."""

    def __init__(self, inner: Wallet, meddler: Meddler) -> None:
        self.inner = inner
        self.meddler = meddler

    def refund(
        self, *, idempotency_key: str, provider: str, bet_ref: str, amount: Decimal, currency: str
    ) -> RefundReceipt:
        self.meddler.before_call(f"refund of {bet_ref}")
        receipt = self.inner.refund(idempotency_key=idempotency_key, provider=provider,
                                    bet_ref=bet_ref, amount=amount, currency=currency)
        self.meddler.after_answer("refund")
        return receipt
