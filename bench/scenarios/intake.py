"""Intake: bets registered per second through batched intake (``place_bets``), beside the
raw batched INSERT of as many rows (a batch of each in turn), and the latency of
registering one bet (``place_bet``) on an otherwise quiet system."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

from bench.scenarios.checks import bet, retire
from bench.scenarios.raw import RawInserts
from bench.sizes import Sizes
from bench.stack import BenchStack
from betguard.services.intake import place_bet, place_bets

CHUNK = 1000


@dataclass(frozen=True)
class Intake:
    batched_per_second: float
    batched_bets: int
    raw_rows_per_second: float  # the raw batched INSERT, a batch beside each of intake's
    per_bet_wakeups_per_second: float  # the same, for a provider woken one bet at a time
    single_p50_ms: float
    single_p99_ms: float
    single_bets: int


def measure_intake(stack: BenchStack, sizes: Sizes) -> Intake:
    single = [f"one-{n:07d}" for n in range(sizes.single_intake)]
    many = [f"many-{n:07d}" for n in range(sizes.intake_bets)]
    each = [f"each-{n:07d}" for n in range(sizes.intake_bets // 10)]
    stack.register([{"bet_ref": ref, "stake": "10.00", "currency": "EUR", "fate": "never"}
                    for ref in [*single, *many, *each]])
    latencies = []
    for ref in single:
        started = time.perf_counter()
        place_bet(stack.ctx, bet("intake", ref))
        latencies.append((time.perf_counter() - started) * 1000)
    raw = RawInserts(stack)
    try:
        batched = _batched_rate(stack, "intake", many, beside=raw)
    finally:
        raw.close()
    per_bet = _batched_rate(stack, "intake_each", each)
    retire(stack, "intake")
    retire(stack, "intake_each")
    cuts = statistics.quantiles(latencies, n=100)
    return Intake(batched, len(many), raw.per_second, per_bet, statistics.median(latencies),
                  cuts[98], len(single))


def _batched_rate(stack: BenchStack, provider: str, refs: list[str], *,
                  beside: RawInserts | None = None) -> float:
    """Bets per second through ``place_bets``, ``CHUNK`` a call; with ``beside``, one raw
    batch of it before each call (timed apart)."""
    seconds = 0.0
    for start in range(0, len(refs), CHUNK):
        if beside is not None:
            beside.insert_batch()
        started = time.perf_counter()
        results = place_bets(stack.ctx, [bet(provider, ref) for ref in refs[start:start + CHUNK]])
        seconds += time.perf_counter() - started
        if any(result.status != "created" for result in results):
            raise RuntimeError(f"batched intake refused bets: {results[0]}")
    return len(refs) / seconds
