"""Fault injectors. Each acts at its planned moments of a run and records what it did."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import ClassVar

import requests
from sqlalchemy import update

from betguard.models.domain.errors import BetNotFound
from betguard.models.store.tables import FeedCursor
from betguard.services.cancels import report_cancel
from betguard.services.context import Context
from betguard_devkit.drills.scenarios import CHAOS_KNOBS, KINDS
from betguard_devkit.launcher import LocalStack
from betguard_devkit.runrefs import RunRefs

PG_PROVIDER = next(name for name, kind in KINDS.items() if kind == "pgsoft")


@dataclass
class Injected:
    at: float  # seconds since the run started
    fault: str
    detail: str


@dataclass
class Injector:
    stack: LocalStack
    moments: list[float]
    log: list[Injected] = field(default_factory=list)

    name: ClassVar[str] = "fault"

    def tick(self, elapsed: float) -> None:
        while self.moments and self.moments[0] <= elapsed:
            self.moments.pop(0)
            self.log.append(Injected(round(elapsed, 1), self.name, self.act()))

    def act(self) -> str:
        raise NotImplementedError

    @property
    def done(self) -> bool:
        return not self.moments


@dataclass
class WorkerKills(Injector):
    rng: random.Random = field(default_factory=random.Random)

    name: ClassVar[str] = "worker-kill"

    def act(self) -> str:
        victim = self.rng.choice(self.stack.workers)
        victim.kill()
        fresh = self.stack.restart(victim)
        return f"SIGKILL {victim.name} (pid {victim.pid}), restarted as pid {fresh.pid}"


@dataclass
class RedisLoss(Injector):
    name: ClassVar[str] = "redis-loss"

    def act(self) -> str:
        assert self.stack.redis is not None, "the drill needs a Redis of its own"
        self.stack.redis.kill()
        time.sleep(1.0)  # down for a moment, as a crashed server would be
        self.stack.redis.restart(wipe=True)
        return "Redis killed and started again with no data"


@dataclass
class DbRestart(Injector):
    name: ClassVar[str] = "db-restart"

    def act(self) -> str:
        assert self.stack.postgres is not None, "the drill needs a PostgreSQL of its own"
        self.stack.postgres.restart()
        return "PostgreSQL restarted (every connection dropped)"


@dataclass
class ProviderOutage(Injector):
    """Starts the outage at the first moment and ends it at the second."""

    ended_at: float | None = None

    name: ClassVar[str] = "provider-outage"

    def act(self) -> str:
        down = len(self.moments) == 1
        requests.post(f"{self.stack.sim_url}/_sim/knobs", json={"outage": down}, timeout=10)
        if not down:
            self.ended_at = time.time()
        return "provider down" if down else "provider back"


@dataclass
class FeedStall(Injector):
    """A pull of the PG-like provider's feed claims it and never finishes (its process
    hangs): the feed's lease holds every other pull off for ``SECONDS``, then runs out.
    Meanwhile the mirror grows old, and no decision may be taken on it."""

    ctx: Context | None = None

    name: ClassVar[str] = "feed-stall"
    SECONDS: ClassVar[float] = 15.0

    def act(self) -> str:
        if self.ctx is None:
            self.ctx = self.stack.context()
        until = self.ctx.clock() + timedelta(seconds=self.SECONDS)
        with self.ctx.db.transaction() as connection:
            connection.execute(update(FeedCursor).where(FeedCursor.provider == PG_PROVIDER)
                               .values(lease_until=until))
        return f"{PG_PROVIDER}'s feed held by a pull that never finishes, {self.SECONDS:.0f} s"


@dataclass
class ProviderRollbacks(Injector):
    """A foreign-dialect provider pays back, on its own, the stakes of the rounds it
    cancelled (Pragmatic pushes a refund to the operator's wallet for a cancelled round,
    also one whose cancel answer betguard never got): each tick its rollbacks of this
    run's bets go into the wallet, as betguard refunds the same bets (the wallet must pay
    each stake back once), and the game server reports each to betguard
    (``report_cancel``, the service behind ``POST /bets/{provider}/{ref}/cancelled``).
    PG's history has no cancelled round: it completes the rounds it resolves itself."""

    refs: RunRefs | None = None
    pushed: set[tuple[str, str]] = field(default_factory=set)
    unreported: set[tuple[str, str]] = field(default_factory=set)
    ctx: Context | None = None
    last_look: float = 0.0

    name: ClassVar[str] = "provider-rollback"
    EVERY: ClassVar[float] = 1.0  # seconds between two looks at the providers' truth

    def tick(self, elapsed: float) -> None:
        if self.refs is None or time.monotonic() - self.last_look < self.EVERY:
            return
        self.last_look = time.monotonic()
        for provider, kind in KINDS.items():
            url = self.stack.dialect_urls.get(kind)
            if url is not None:
                self._follow(provider, url, elapsed)
        self._report()

    def _report(self) -> None:
        """The game server reports each rollback to betguard, once betguard has the bet
        (a late-registered bet may not be placed yet: asked again at the next tick)."""
        if not self.unreported:
            return
        if self.ctx is None:
            self.ctx = self.stack.context()
        for provider, ref in sorted(self.unreported):
            try:
                report_cancel(self.ctx, provider, ref)
            except BetNotFound:
                continue
            self.unreported.discard((provider, ref))

    def _follow(self, provider: str, url: str, elapsed: float) -> None:
        assert self.refs is not None  # noqa: S101 - checked by tick
        bets = requests.get(f"{url}/_sim/truth", timeout=30).json()["bets"]
        for ref, fact in bets.items():
            if (provider, ref) in self.pushed or self.refs.number not in ref or \
                    fact.get("status_now") != "cancelled":
                continue
            body = {"provider": provider, "bet_ref": ref, "amount": fact["stake"],
                    "currency": fact["currency"]}
            answer = requests.post(f"{self.stack.sim_url}/_sim/rollback", json=body, timeout=10)
            if answer.status_code != 409:  # 409: betguard's refund came first; nothing paid
                answer.raise_for_status()
            self.pushed.add((provider, ref))
            self.unreported.add((provider, ref))
            paid = "paid" if answer.status_code != 409 else "refused, betguard refunded first"
            self.log.append(Injected(round(elapsed, 1), self.name,
                                     f"rollback of {provider}/{ref}: {paid}"))

    @property
    def done(self) -> bool:
        return True  # it follows the provider; it has no moments of its own


def chaos_knobs() -> dict[str, object]:
    return dict(CHAOS_KNOBS)


def build_injectors(faults: tuple[str, ...], stack: LocalStack, duration: float,
                    rng: random.Random) -> list[Injector]:
    injectors: list[Injector] = []
    if "worker-kills" in faults:
        period = min(max(2.0, duration / 8), 15.0)  # every few seconds, at least 8 times
        moments = [period * n for n in range(1, int(duration / period) + 1)]
        injectors.append(WorkerKills(stack, moments, rng=rng))
    if "redis-loss" in faults:
        injectors.append(RedisLoss(stack, [duration * 0.3, duration * 0.65]))
    if "db-restart" in faults:
        injectors.append(DbRestart(stack, [duration * 0.5]))
    if "provider-chaos" in faults:
        outage = max(8.0, min(duration * 0.5, 180.0))
        injectors.append(ProviderOutage(stack, [duration * 0.2, duration * 0.2 + outage]))
        injectors.append(FeedStall(stack, [duration * 0.35, duration * 0.75]))
    return injectors
