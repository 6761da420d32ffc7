"""How big each scenario runs: ``smoke`` (the smallest that runs every scenario: for
``make test``, whose figures are not reported), ``quick`` (``make bench-quick``) and
``full`` (``make bench``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sizes:
    name: str
    noop_tasks: int  # no-op messages drained to measure Celery's own rate
    intake_bets: int  # bets registered through batched intake
    single_intake: int  # bets placed one by one, for the latency percentiles
    naive_bets: int  # bets the naive baseline checks over and over
    naive_seconds: float  # how long the naive baseline is measured
    check_bets: int  # bets betguard checks over and over
    checks_total: int  # checks run in the checks scenario (memory is measured across them)
    warmup_checks: int  # checks before throughput and memory are measured
    resolution_bets: int  # unreturned bets of a batch provider resolved after an outage
    economy_bets: int  # bets whose provider queries are counted
    sweep_small: int  # rows of the small table the sweep runs over
    sweep_large: int  # rows of the large table
    sweep_due: int  # due bets in each
    catchup_backlog: int  # bets left pending by the provider outage
    rate_limit: float  # the catch-up provider's rate limit, requests per second
    isolation_healthy: int  # healthy bets, placed alone and then beside the hanging ones
    isolation_hanging: int  # bets of each bad neighbour, placed with the healthy ones
    isolation_observe: float  # seconds each neighbour is watched after placement

    @property
    def label(self) -> str:
        return {"smoke": "smoke (smallest sizes: figures not comparable)",
                "quick": "quick (reduced sizes)"}.get(self.name, "full")


SMOKE = Sizes(
    name="smoke", noop_tasks=500, intake_bets=2000,
    single_intake=100, naive_bets=100, naive_seconds=2.0, check_bets=200,
    checks_total=800, warmup_checks=200, resolution_bets=1000, economy_bets=100,
    sweep_small=5000, sweep_large=20_000, sweep_due=1000, catchup_backlog=300,
    rate_limit=150.0, isolation_healthy=50, isolation_hanging=100, isolation_observe=12.0,
)


QUICK = Sizes(
    name="quick", noop_tasks=2000, intake_bets=10_000,
    single_intake=300, naive_bets=200, naive_seconds=4.0, check_bets=600,
    checks_total=2500, warmup_checks=700, resolution_bets=5000, economy_bets=200,
    sweep_small=20_000, sweep_large=200_000, sweep_due=5000, catchup_backlog=1000,
    rate_limit=150.0, isolation_healthy=100, isolation_hanging=200, isolation_observe=20.0,
)

FULL = Sizes(
    name="full", noop_tasks=20_000, intake_bets=200_000,
    single_intake=2000, naive_bets=600, naive_seconds=20.0, check_bets=3000,
    checks_total=200_000, warmup_checks=10_000, resolution_bets=100_000, economy_bets=2000,
    sweep_small=20_000, sweep_large=2_000_000, sweep_due=5000, catchup_backlog=100_000,
    rate_limit=150.0, isolation_healthy=200, isolation_hanging=400, isolation_observe=40.0,
)
