"""Catch-up: a provider outage leaves a backlog of pending bets; once the provider is
back, the backlog drains at the provider's rate limit (requests per second, shared by
every worker through Redis), never above it."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import func, select

from bench import measure
from bench.scenarios.checks import bet, retire
from bench.sizes import Sizes
from bench.stack import BenchStack
from models.tables import Bet
from services.intake import place_bets

CHUNK = 1000
SAMPLE_SECONDS = 0.25


@dataclass(frozen=True)
class CatchUp:
    backlog: int
    limit: float
    drain_seconds: float
    ideal_seconds: float
    peak_per_second: int
    mean_per_second: float
    timeline: list[tuple[float, int, int]]  # (seconds after the outage, pending, requests/s)


def drain_after_outage(stack: BenchStack, sizes: Sizes) -> CatchUp:
    refs = [f"cat-{n:07d}" for n in range(sizes.catchup_backlog)]
    stack.register([{"bet_ref": ref, "stake": "10.00", "currency": "EUR", "fate": "returned"}
                    for ref in refs])
    stack.knobs(outage=True)
    try:
        for start in range(0, len(refs), CHUNK):
            place_bets(stack.ctx, [bet("limited", ref) for ref in refs[start:start + CHUNK]])
        time.sleep(2.0)
    finally:
        stack.knobs(outage=False)
    t0 = time.time()
    samples = [(0.0, _pending(stack))]
    give_up = time.monotonic() + 120 + 3 * sizes.catchup_backlog / sizes.rate_limit
    while samples[-1][1] > 0 and time.monotonic() < give_up:
        time.sleep(SAMPLE_SECONDS)
        samples.append((time.time() - t0, _pending(stack)))
    t1 = time.time()
    retire(stack, "limited")
    log = measure.requests_in(stack.log_since(t0), "/bets/cat-", t0, t1)
    rates = measure.per_second(log)
    timeline = [(round(at, 1), pending, rates.get(int(t0 + at), 0)) for at, pending in samples]
    return CatchUp(
        backlog=len(refs), limit=sizes.rate_limit, drain_seconds=t1 - t0,
        ideal_seconds=len(refs) / sizes.rate_limit,
        peak_per_second=max(rates.values(), default=0),
        mean_per_second=len(log) / (t1 - t0), timeline=timeline,
    )


def _pending(stack: BenchStack) -> int:
    with stack.ctx.db.unit_of_work() as session:
        return int(session.scalar(select(func.count()).select_from(Bet).where(
            Bet.provider == "limited", Bet.state == "pending")) or 0)
