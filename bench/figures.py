"""From the scenarios' measurements to the figures the issue asks for: one per target,
each a value, the reference measured beside it, their ratio and the verdict."""

from __future__ import annotations

from typing import Any

from bench.figure import Figure, ratio
from bench.scenarios.catchup import CatchUp
from bench.scenarios.checks import CheckRun
from bench.scenarios.economy import Economy
from bench.scenarios.intake import Intake
from bench.scenarios.isolation import Beside, Isolation
from bench.scenarios.raw import RawLimits
from bench.scenarios.resolution import Resolution
from bench.scenarios.sweeps import SweepCost
from bench.sizes import Sizes
from bench.stack import DRIP_SECONDS, HANG_SECONDS

KEYS = ("checks_vs_naive", "checks_vs_noop", "resolution_vs_noop", "intake_vs_raw_insert",
        "intake_single_p99", "sweep_large_vs_small", "economy_normal_path_queries",
        "economy_queries_per_check", "checks_cpu_ms", "memory_growth", "catchup_peak_vs_limit",
        "catchup_drain_vs_ideal", "isolation_p99_vs_alone", "isolation_dripping_p99_vs_alone",
        "isolation_unaccepting_p99_vs_alone", "isolation_dripping_peak_vs_limit")
SINGLE_P99_BOUND_MS = 5.0
CPU_PER_CHECK_GOAL_MS = 1.5
# The processes a check costs CPU in: betguard's and the services it runs on (not the
# simulator playing the provider, nor the bench itself).
CHECK_PROCESSES = ("provider worker", "default worker", "beat", "postgres", "redis")
NAIVE_PROCESSES = ("naive worker", "postgres", "redis")


def checks(run: CheckRun, naive: CheckRun, raw: RawLimits, sizes: Sizes) -> list[Figure]:
    size = f"{run.checks} checks over {sizes.check_bets} bets, 50 ms provider latency"
    notes = {"cpu_cores": dict(run.cpu), "naive_cpu_cores": dict(naive.cpu)}
    r_naive, r_noop = ratio(run.per_second, naive.per_second), ratio(run.per_second,
                                                                      raw.noop_per_second)
    return [
        Figure("checks_vs_naive", "Checks per second vs the naive task", run.per_second,
               "checks/s", naive.per_second, "naive task, checks/s", r_naive, ">= 10x",
               (r_naive or 0) >= 10, size, notes),
        Figure("checks_vs_noop", "Checks per second vs no-op Celery tasks", run.per_second,
               "checks/s", raw.noop_per_second, "no-op tasks/s", r_noop, ">= 0.5x",
               (r_noop or 0) >= 0.5, size, notes),
    ]


def cpu_per_check(run: CheckRun, naive: CheckRun, sizes: Sizes) -> Figure:
    """CPU milliseconds per check, summed over the processes a check runs in."""
    mine = cpu_ms_per_check(run, CHECK_PROCESSES)
    theirs = cpu_ms_per_check(naive, NAIVE_PROCESSES)
    worker = cpu_ms_per_check(run, ("provider worker",))
    return Figure("checks_cpu_ms", "CPU per check: provider worker, PostgreSQL, Redis",
                  mine, "ms", theirs, "naive task, ms", ratio(mine, theirs),
                  f"<= {CPU_PER_CHECK_GOAL_MS} ms", mine <= CPU_PER_CHECK_GOAL_MS,
                  f"{run.checks} checks over {sizes.check_bets} bets",
                  {"provider_worker_ms": round(worker, 2),
                   "simulator_ms": round(cpu_ms_per_check(run, ("simulator",)), 2)})


def cpu_ms_per_check(run: CheckRun, processes: tuple[str, ...]) -> float:
    cores = sum(share for name, share in run.cpu if name in processes)
    return 1000 * cores / run.per_second if run.per_second else float("nan")


def memory(run: CheckRun, sizes: Sizes) -> Figure:
    mib = 1024 * 1024
    grown = ratio(run.rss_end, run.rss_start)
    return Figure("memory_growth", "Provider worker RSS, end vs after warm-up",
                  run.rss_end / mib, "MiB", run.rss_start / mib, "MiB after warm-up", grown,
                  "< 1.10x", grown is not None and grown < 1.10,
                  f"across {sizes.checks_total - sizes.warmup_checks}+ checks")


def resolution(res: Resolution, raw: RawLimits) -> Figure:
    r = ratio(res.per_second, raw.noop_per_second)
    return Figure("resolution_vs_noop", "Batched resolution vs no-op Celery tasks",
                  res.per_second, "bets/s", raw.noop_per_second, "no-op tasks/s", r, "> 1x",
                  (r or 0) > 1, f"{res.bets} bets after an outage",
                  {"batch_requests": res.batch_requests, "seconds": round(res.seconds, 2),
                   "cpu_cores": dict(res.cpu)})


def intake(result: Intake) -> list[Figure]:
    r = ratio(result.batched_per_second, result.raw_rows_per_second)
    p99 = ratio(result.single_p99_ms, SINGLE_P99_BOUND_MS)
    return [
        Figure("intake_vs_raw_insert", "Batched intake vs raw batched INSERT",
               result.batched_per_second, "bets/s", result.raw_rows_per_second, "raw rows/s",
               r, ">= 0.25x", (r or 0) >= 0.25, f"{result.batched_bets} bets, 1000 a call",
               {"per_bet_wakeups_bets_per_second": round(result.per_bet_wakeups_per_second)}),
        Figure("intake_single_p99", "Single-bet intake p99 latency", result.single_p99_ms, "ms",
               SINGLE_P99_BOUND_MS, "bound, ms", p99, "< 5 ms",
               result.single_p99_ms < SINGLE_P99_BOUND_MS, f"{result.single_bets} bets",
               {"p50_ms": round(result.single_p50_ms, 2)}),
    ]


def sweeps(cost: SweepCost) -> Figure:
    r = ratio(cost.large_seconds, cost.small_seconds)
    return Figure("sweep_large_vs_small", "Sweep cost, large table vs small",
                  cost.large_seconds * 1000, "ms", cost.small_seconds * 1000, "ms", r, "<= 1.5x",
                  (r or 99) <= 1.5,
                  f"{cost.large_rows:,} vs {cost.small_rows:,} rows, {cost.due:,} due")


def economy(eco: Economy) -> list[Figure]:
    return [
        Figure("economy_normal_path_queries", "Provider queries for results returned normally",
               eco.normal_path_queries, "queries", 0, "target", None, "= 0",
               eco.normal_path_queries == 0, f"{eco.normal_path_bets} bets"),
        Figure("economy_queries_per_check", "Queries per scheduled check, worst bet",
               eco.max_queries_per_check, "queries/check", 1.0, "one per check",
               eco.max_queries_per_check, "<= 1", eco.max_queries_per_check <= 1.0,
               f"{eco.unreturned_bets} unreturned bets, every wake-up duplicated",
               {"queries": eco.queries, "checks": eco.checks,
                "duplicates_delivered": eco.duplicates_delivered}),
    ]


def catchup(result: CatchUp) -> list[Figure]:
    peak = ratio(result.peak_per_second, result.limit)
    drain = ratio(result.drain_seconds, result.ideal_seconds)
    size = f"{result.backlog:,} bets at {result.limit:.0f}/s"
    return [
        Figure("catchup_peak_vs_limit", "Catch-up: busiest second vs rate limit",
               result.peak_per_second, "requests/s", result.limit, "rate limit", peak, "<= 1x",
               (peak or 99) <= 1.0, size, {"mean_per_second": round(result.mean_per_second, 1),
                                           "simulator_longest_pause_s": result.longest_pause,
                                           "simulator_pause_before_peak_s":
                                               result.pause_before_peak}),
        Figure("catchup_drain_vs_ideal", "Catch-up: drain time vs backlog / limit",
               result.drain_seconds, "s", result.ideal_seconds, "backlog / limit, s", drain,
               "within 20%", drain is not None and abs(drain - 1) <= 0.2, size),
    ]


# What each isolation neighbour does to its calls, for the figures' size column.
NEIGHBOUR_WORDS = {
    "hanging": f"holding every answer {HANG_SECONDS:.0f} s",
    "dripping": f"dripping every answer a byte every {DRIP_SECONDS:.0f} s, headers included",
    "unaccepting": "never accepting a connection (its accept queue full)",
}


def isolation(result: Isolation) -> list[Figure]:
    """Per neighbour the healthy p99 vs alone (the hanging one keeps the figure's old
    key), and the dripping neighbour's peak of requests held at once vs its limit."""
    figures = [_beside(result, beside) for beside in result.beside]
    drip = next((b for b in result.beside if b.neighbour == "dripping"), None)
    if drip is not None and drip.peak_in_flight is not None:
        peak = float(drip.peak_in_flight)
        r = ratio(peak, drip.limit)
        figures.append(Figure(
            "isolation_dripping_peak_vs_limit", "Dripping provider: most requests open at "
            "once, counted there, vs max_concurrency", peak, "requests", drip.limit,
            "max_concurrency", r, "<= 1x", r is not None and r <= 1.0,
            f"{drip.bets} bets, watched {drip.watched:.0f} s (a slot's lease and more)",
            {"requests_sent": drip.requests}))
    return figures


def _beside(result: Isolation, beside: Beside) -> Figure:
    key = "isolation_p99_vs_alone" if beside.neighbour == "hanging" else \
        f"isolation_{beside.neighbour}_p99_vs_alone"
    r = ratio(beside.p99, result.alone_p99)
    return Figure(
        key, f"Healthy provider's p99 placement to settled, {beside.neighbour} neighbour vs "
        "alone", beside.p99, "s", result.alone_p99, "s alone", r, "<= 2x",
        r is not None and r <= 2.0,
        f"{result.healthy} healthy bets beside {beside.bets} of a provider "
        f"{NEIGHBOUR_WORDS[beside.neighbour]} (read timeout 5 s)",
        {"p50_beside_s": round(beside.p50, 2), "p50_alone_s": round(result.alone_p50, 2),
         "neighbour_provider_errors": beside.errors,
         "neighbour_requests_sent": beside.requests,
         "neighbour_peak_in_flight": beside.peak_in_flight,
         "neighbour_max_concurrency": beside.limit,
         "neighbour_watched_s": beside.watched,
         "healthy_waits_beside": beside.waits, "healthy_waits_alone": result.alone_waits})


def failed(key: str, error: str) -> Figure:
    return Figure(key, key, float("nan"), "", None, "", None, "", False,
                  notes={"error": error})


def as_json(figures: dict[str, Figure], meta: dict[str, Any]) -> dict[str, Any]:
    return {"run": meta, **{key: figures[key].as_json() for key in KEYS if key in figures}}
