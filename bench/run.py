"""One bench run: start the stack, run every scenario on it in turn, then print the
table and write ``bench/results/latest.json`` and the catch-up plot.

A scenario that fails is reported as failed (its figures marked so) and the run goes
on with the next: every figure the run could measure is still written.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from bench import figures as make
from bench import report
from bench.figure import Figure
from bench.scenarios import catchup, checks, economy, intake, isolation, raw, resolution, sweeps
from bench.sizes import FULL, QUICK, SMOKE, Sizes
from bench.stack import LATENCY_MS, PROVIDER_CONCURRENCY, PROVIDER_WORKERS, BenchStack, start
from betguard.bootstrap import settle_heap

RESULTS = Path(__file__).with_name("results")
T = TypeVar("T")


def main(*, quick: bool, smoke: bool = False, workdir: Path | None = None,
         results: Path | None = None, only: str | None = None) -> int:
    sizes = SMOKE if smoke else QUICK if quick else FULL
    results = results or RESULTS
    workdir = (workdir or Path("var") / f"bench-{sizes.name}").absolute()
    shutil.rmtree(workdir, ignore_errors=True)
    meta: dict[str, Any] = {"size": sizes.label, "started": datetime.now(UTC).isoformat(),
                            "cpus": os.cpu_count(), "load_before": round(os.getloadavg()[0], 2),
                            "provider_latency_ms": LATENCY_MS,
                            "provider_workers": PROVIDER_WORKERS,
                            "provider_worker_threads": PROVIDER_CONCURRENCY}
    began = time.monotonic()
    say(f"bench {sizes.label}: starting PostgreSQL, Redis, simulator, workers in {workdir}")
    stack = start(workdir, rate_limit=sizes.rate_limit)
    settle_heap()  # the bench calls intake in this process: started as betguard's API is
    try:
        if only is not None:
            return run_one(stack, sizes, only, results)
        found = run_scenarios(stack, sizes, results)
    finally:
        stack.stop()
    meta["seconds"] = round(time.monotonic() - began, 1)
    meta["load_after"] = round(os.getloadavg()[0], 2)
    ordered = [found[key] for key in make.KEYS if key in found]
    print(report.table(ordered, f"betguard bench, {sizes.label}, {meta['seconds']} s"))
    report.write_json(results / "latest.json", make.as_json(found, meta))
    report.write_json(results / f"{sizes.name}.json", make.as_json(found, meta))
    (results / f"{sizes.name}.md").write_text(report.markdown(ordered) + "\n")
    say(f"wrote {results / 'latest.json'}")
    return 0


def run_scenarios(stack: BenchStack, sizes: Sizes, results: Path) -> dict[str, Figure]:
    found: dict[str, Figure] = {}
    limits = step("raw limits (no-op tasks)", lambda: raw.measure(stack, sizes))
    naive = step("naive baseline checks", lambda: checks.naive_checks(stack, sizes))
    run = step("betguard checks and worker memory", lambda: checks.betguard_checks(stack, sizes))
    res = step("batched resolution", lambda: resolution.resolve_after_outage(stack, sizes))
    eco = step("provider economy", lambda: economy.count_queries(stack, sizes))
    cat = step("catch-up after an outage", lambda: catchup.drain_after_outage(stack, sizes))
    got = step("intake", lambda: intake.measure_intake(stack, sizes))
    swept = step("sweeps", lambda: sweeps.sweep_cost(stack, sizes))
    # Last: the hanging provider's calls in flight outlive the scenario by a few seconds.
    iso = step("isolation from a hanging, a dripping and an unaccepting provider",
               lambda: isolation.measure_isolation(stack, sizes))
    figures: list[Figure] = []
    if run is not None and naive is not None and limits is not None:
        figures += make.checks(run, naive, limits, sizes)
        figures.append(make.cpu_per_check(run, naive, sizes))
    if run is not None:
        figures.append(make.memory(run, sizes))
    if res is not None and limits is not None:
        figures.append(make.resolution(res, limits))
    if got is not None:
        figures += make.intake(got)
    if swept is not None:
        figures.append(make.sweeps(swept))
    if eco is not None:
        figures += make.economy(eco)
    if cat is not None:
        figures += make.catchup(cat)
        report.catchup_svg(results / f"catchup-{sizes.name}.svg", cat.timeline,
                           limit=cat.limit, backlog=cat.backlog,
                           title=f"Catch-up after an outage: {cat.backlog:,} bets, "
                                 f"rate limit {cat.limit:.0f}/s ({sizes.label})")
    if iso is not None:
        figures += make.isolation(iso)
    found = {figure.key: figure for figure in figures}
    for key in make.KEYS:
        found.setdefault(key, make.failed(key, "its scenario failed: see the run's output"))
    return found


ALONE = {"isolation": (isolation.measure_isolation, make.isolation)}


def run_one(stack: BenchStack, sizes: Sizes, name: str, results: Path) -> int:
    """One scenario that needs no other's measurements, alone (``--only``): its table
    is printed and written to ``latest.json`` only, never over a whole run's results."""
    scenario, figure_of = ALONE[name]
    found = step(name, lambda: scenario(stack, sizes))
    if found is None:
        return 1
    made = figure_of(found)
    print(report.table(made, f"betguard bench, {sizes.label}, {name} only"))
    report.write_json(results / "latest.json", {"run": {"size": sizes.label, "only": name},
                                                **{f.key: f.as_json() for f in made}})
    return 0


def step(name: str, action: Callable[[], T]) -> T | None:
    """Run one scenario; a failure is printed and yields None (its figures: failed)."""
    say(f"- {name} ...")
    started = time.monotonic()
    try:
        result = action()
    except Exception as exc:  # one scenario failing must not lose the others' figures
        traceback.print_exc()
        say(f"  {name} failed after {time.monotonic() - started:.1f} s: {exc}")
        return None
    say(f"  done in {time.monotonic() - started:.1f} s: {_brief(result)}")
    return result


def _brief(result: object) -> str:
    text = repr(result)
    return text if len(text) < 600 else text[:600] + " ..."


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
