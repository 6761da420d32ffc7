"""Resolution: a provider that answers many bets in one call (``supports_batch``) comes
back from an outage with every pending bet's result; bets resolved per second, from
the end of the outage until the last one is settled."""

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


@dataclass(frozen=True)
class Resolution:
    per_second: float
    bets: int
    seconds: float
    batch_requests: int
    cpu: list[tuple[str, float]]


def resolve_after_outage(stack: BenchStack, sizes: Sizes) -> Resolution:
    refs = [f"res-{n:07d}" for n in range(sizes.resolution_bets)]
    stack.register([{"bet_ref": ref, "stake": "10.00", "currency": "EUR", "fate": "returned"}
                    for ref in refs])
    stack.knobs(outage=True)
    try:
        for start in range(0, len(refs), CHUNK):
            place_bets(stack.ctx, [bet("batched", ref) for ref in refs[start:start + CHUNK]])
        time.sleep(2.0)  # every bet has met the outage at least once
    finally:
        stack.knobs(outage=False)
    t0, cpu0 = time.time(), measure.cpu_by_process()
    budget = 120 + sizes.resolution_bets / 50
    measure.wait_until(lambda: _open(stack) == 0, timeout=budget, interval=0.1,
                       what="every batched bet resolved")
    t1, cpu1 = time.time(), measure.cpu_by_process()
    batches = [e for e in stack.log_since(t0) if e["path"] == "/bets/status" and e["t"] < t1]
    retire(stack, "batched")
    return Resolution(len(refs) / (t1 - t0), len(refs), t1 - t0, len(batches),
                      measure.cpu_shares(cpu0, cpu1, t1 - t0))


def _open(stack: BenchStack) -> int:
    with stack.ctx.db.unit_of_work() as session:
        return int(session.scalar(select(func.count()).select_from(Bet).where(
            Bet.provider == "batched", Bet.state == "pending")) or 0)
