"""Catch-up: a provider outage leaves a backlog of pending bets; once the provider is
back, the backlog drains at the provider's rate limit (requests per second, shared by
every worker through Redis), never above it."""

from __future__ import annotations

import time
from dataclasses import dataclass

from bench import measure
from bench.scenarios.checks import pending, place_during_outage, retire
from bench.sizes import Sizes
from bench.stack import BenchStack

SAMPLE_SECONDS = 0.25


@dataclass(frozen=True)
class CatchUp:
    backlog: int
    limit: float
    drain_seconds: float
    ideal_seconds: float
    peak_per_second: int
    mean_per_second: float
    # The simulator's own collector pauses during the drain: (the longest, the longest in
    # the two seconds before the busiest second ended), seconds.
    longest_pause: float
    pause_before_peak: float
    timeline: list[tuple[float, int, int]]  # (seconds after the outage, pending, requests/s)


def drain_after_outage(stack: BenchStack, sizes: Sizes) -> CatchUp:
    refs = [f"cat-{n:07d}" for n in range(sizes.catchup_backlog)]
    place_during_outage(stack, "limited", refs)
    t0 = time.time()
    samples = [(0.0, pending(stack, "limited"))]
    give_up = time.monotonic() + 120 + 3 * sizes.catchup_backlog / sizes.rate_limit
    while samples[-1][1] > 0 and time.monotonic() < give_up:
        time.sleep(SAMPLE_SECONDS)
        samples.append((time.time() - t0, pending(stack, "limited")))
    t1 = time.time()
    retire(stack, "limited")
    log = measure.requests_in(stack.log_since(t0), "/bets/cat-", t0, t1)
    rates = measure.per_second(log)
    busiest = max(rates, key=lambda second: rates[second], default=int(t0))
    pauses = stack.pauses_since(t0)
    timeline = [(round(at, 1), pending, rates.get(int(t0 + at), 0)) for at, pending in samples]
    return CatchUp(
        backlog=len(refs), limit=sizes.rate_limit, drain_seconds=t1 - t0,
        ideal_seconds=len(refs) / sizes.rate_limit,
        peak_per_second=max(rates.values(), default=0),
        mean_per_second=len(log) / (t1 - t0), timeline=timeline,
        longest_pause=max((p["seconds"] for p in pauses), default=0.0),
        pause_before_peak=max((p["seconds"] for p in pauses
                               if busiest - 1 <= p["t"] < busiest + 1), default=0.0),
    )

