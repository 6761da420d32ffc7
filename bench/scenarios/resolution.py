"""Resolution: a provider that answers many bets in one call (``supports_batch``) comes
back from an outage with every pending bet's result; bets resolved per second, from
the end of the outage until the last one is settled."""

from __future__ import annotations

import time
from dataclasses import dataclass

from bench import measure
from bench.scenarios.checks import pending, place_during_outage, retire
from bench.sizes import Sizes
from bench.stack import BenchStack


@dataclass(frozen=True)
class Resolution:
    per_second: float
    bets: int
    seconds: float
    batch_requests: int
    cpu: list[tuple[str, float]]


def resolve_after_outage(stack: BenchStack, sizes: Sizes) -> Resolution:
    refs = [f"res-{n:07d}" for n in range(sizes.resolution_bets)]
    place_during_outage(stack, "batched", refs)
    t0, cpu0 = time.time(), measure.cpu_by_process()
    budget = 120 + sizes.resolution_bets / 50
    measure.wait_until(lambda: pending(stack, "batched") == 0, timeout=budget, interval=0.1,
                       what="every batched bet resolved")
    t1, cpu1 = time.time(), measure.cpu_by_process()
    batches = [e for e in stack.log_since(t0) if e["path"] == "/bets/status" and e["t"] < t1]
    retire(stack, "batched")
    return Resolution(len(refs) / (t1 - t0), len(refs), t1 - t0, len(batches),
                      measure.cpu_shares(cpu0, cpu1, t1 - t0))

