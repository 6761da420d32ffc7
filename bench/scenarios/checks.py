"""Checks per second: betguard's check task against the naive baseline, each bet's
result never coming so every check is followed by the next; and the provider
worker's memory across the run."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import OperationalError

from bench import measure
from bench.sizes import Sizes
from bench.stack import BenchStack
from betguard.models.store.tables import Bet
from betguard.services.context import Context
from betguard.services.intake import place_bets
from betguard_devkit.runrefs import round_fields

CHUNK = 1000


@dataclass(frozen=True)
class CheckRun:
    per_second: float
    checks: int
    seconds: float
    rss_start: int
    rss_end: int
    cpu: list[tuple[str, float]]

    @property
    def rss_growth(self) -> float:
        return (self.rss_end - self.rss_start) / self.rss_start


def betguard_checks(stack: BenchStack, sizes: Sizes) -> CheckRun:
    """``check_bets`` bets whose result never comes, each checked again at once; the
    rate is read from the simulator's log after a warm-up, memory at both ends."""
    refs = [f"chk-{n:07d}" for n in range(sizes.check_bets)]
    stack.register([{"bet_ref": ref, "stake": "10.00", "currency": "EUR", "fate": "never"}
                    for ref in refs])
    place_all(stack, "steady", refs)
    worker = stack.provider_worker_pid()

    def done() -> int:
        return _checks_done(stack, "steady")

    budget = 120 + sizes.checks_total / 20
    measure.wait_until(lambda: done() >= sizes.warmup_checks, timeout=budget, interval=0.2,
                       what="the checks' warm-up")
    t0, rss0, cpu0 = time.time(), measure.rss_bytes(worker), measure.cpu_by_process()
    measure.wait_until(lambda: done() >= sizes.checks_total, timeout=budget, interval=0.5,
                       what=f"{sizes.checks_total} checks")
    t1, rss1, cpu1 = time.time(), measure.rss_bytes(worker), measure.cpu_by_process()
    retire(stack, "steady")
    answered = len(measure.requests_in(stack.log_since(t0), "/bets/chk-", t0, t1))
    return CheckRun(answered / (t1 - t0), answered, t1 - t0, rss0, rss1,
                    measure.cpu_shares(cpu0, cpu1, t1 - t0))


def naive_checks(stack: BenchStack, sizes: Sizes) -> CheckRun:
    """The naive task over ``naive_bets`` bets, measured for ``naive_seconds``."""
    refs = [f"naive-{n:07d}" for n in range(sizes.naive_bets)]
    stack.register([{"bet_ref": ref, "stake": "10.00", "currency": "EUR", "fate": "never"}
                    for ref in refs])
    ids = _insert_naive_bets(stack, refs)
    try:
        from bench import naive

        for bet_id in ids:
            naive.app.send_task(naive.NAIVE_TASK, args=[bet_id], queue=naive.NAIVE_QUEUE)
        measure.wait_until(lambda: _naive_answered(stack) > len(ids), timeout=60,
                           what="the naive worker's first round")
        cpu0, t0 = measure.cpu_by_process(), time.time()
        time.sleep(sizes.naive_seconds)
        cpu1, t1 = measure.cpu_by_process(), time.time()
        answered = len(measure.requests_in(stack.log_since(t0), "/bets/naive-", t0, t1))
    finally:
        stack.redis.delete("bench.naive")
        retire(stack, "naive")
    return CheckRun(answered / (t1 - t0), answered, t1 - t0, 0, 0,
                    measure.cpu_shares(cpu0, cpu1, t1 - t0))


def bet(provider: str, ref: str, stake: str = "10.00") -> dict[str, Any]:
    return {"provider": provider, "bet_ref": ref, "player_id": "player-1",
            **round_fields(ref, "roulette"), "stake": stake, "currency": "EUR"}


def place_all(stack: BenchStack, provider: str, refs: list[str]) -> None:
    """Register ``refs`` with ``provider`` through batched intake, ``CHUNK`` a call."""
    for start in range(0, len(refs), CHUNK):
        place_bets(stack.ctx, [bet(provider, ref) for ref in refs[start:start + CHUNK]])


def place_during_outage(stack: BenchStack, provider: str, refs: list[str]) -> None:
    """Bets the provider has already returned, placed while it is down; returns once it
    is back up and every bet has met the outage at least once."""
    stack.register([{"bet_ref": ref, "stake": "10.00", "currency": "EUR", "fate": "returned"}
                    for ref in refs])
    stack.knobs(outage=True)
    try:
        place_all(stack, provider, refs)
        time.sleep(2.0)
    finally:
        stack.knobs(outage=False)


def pending(stack: BenchStack, provider: str) -> int:
    with stack.ctx.db.unit_of_work() as session:
        return int(session.scalar(select(func.count()).select_from(Bet).where(
            Bet.provider == provider, Bet.state == "pending")) or 0)


def retire(stack: BenchStack, provider: str) -> None:
    """Stop a scenario's bets from being checked again: ``retire_in``."""
    retire_in(stack.ctx, provider)


def retire_in(ctx: Context, provider: str) -> None:
    """Stop a provider's bets from being checked again (bench housekeeping, not a
    betguard operation): their remaining wake-ups find nothing to claim. Rows are
    locked in id order, the order in which a group of checks concludes its bets, so
    the two never wait for each other in a circle."""
    pending_ids = (select(Bet.id).where(Bet.provider == provider, Bet.state == "pending")
                   .order_by(Bet.id).with_for_update())
    for attempt in range(5):
        try:
            with ctx.db.unit_of_work() as session:
                session.execute(update(Bet).where(Bet.id.in_(pending_ids.scalar_subquery()),
                                                  Bet.state == "pending")
                                .values(state="in_review", next_check_at=None))
                session.commit()
            return
        except OperationalError:  # a deadlock all the same: PostgreSQL chose this side
            if attempt == 4:
                raise
            time.sleep(0.2)


def _checks_done(stack: BenchStack, provider: str) -> int:
    with stack.ctx.db.unit_of_work() as session:
        return int(session.scalar(select(func.coalesce(func.sum(Bet.check_attempt - 1), 0))
                                  .where(Bet.provider == provider)) or 0)


def _naive_answered(stack: BenchStack) -> int:
    return _checks_done(stack, "naive")


def _insert_naive_bets(stack: BenchStack, refs: list[str]) -> list[int]:
    """The naive baseline keeps its own bets: rows no betguard sweep picks up."""
    now = datetime.now(UTC)
    rows = [{**bet("naive", ref), "stake": 10, "placed_at": now, "state": "pending",
             "deadline": now + timedelta(days=1), "next_check_at": None, "check_attempt": 1,
             "version": 1, "duplicate_deliveries": 0, "created_at": now, "updated_at": now}
            for ref in refs]
    with stack.ctx.db.unit_of_work() as session:
        ids = list(session.scalars(insert(Bet).returning(Bet.id), rows))
        session.commit()
    return ids
