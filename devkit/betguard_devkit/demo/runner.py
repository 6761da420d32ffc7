"""``betguard demo``: the whole pipeline on this machine, with live progress, a
summary and an HTML report. Nothing is left running unless ``--keep`` is given."""

from __future__ import annotations

import json
import os
import random
import secrets
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import TextIO

import requests

from betguard.config.settings import Settings, get_settings
from betguard.services.accounts import add_account
from betguard.services.context import Context
from betguard_devkit.audit import merge_truths
from betguard_devkit.demo.load import new_run_id, place_bets
from betguard_devkit.demo.report import write_report
from betguard_devkit.demo.scenarios import (
    DIALECT_KNOBS,
    POLICIES,
    PROVIDERS,
    SCENARIOS,
    SETTINGS_ENV,
    SIMULATOR_ENV,
    Scenario,
)
from betguard_devkit.demo.summary import Progress, Summary, progress, summarize
from betguard_devkit.launcher import LaunchPlan, LocalStack
from betguard_devkit.runrefs import RunRefs

# Bets still open this long after the last deadline count as lost.
GIVE_UP_AFTER_SECONDS = 60.0
SAMPLE_SECONDS = 1.0


def run_demo(*, bets: int, scenario: str, as_json: bool, keep: bool, workdir: str) -> int:
    chosen = SCENARIOS[scenario]
    out = sys.stderr if as_json else sys.stdout
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    stack = LocalStack(_plan(Path(workdir).absolute(), chosen, get_settings()),
                       {**os.environ, **SIMULATOR_ENV})
    try:
        print(f"betguard demo: {bets} bets, scenario {chosen.name}: {chosen.description}",
              file=out)
        stack.start()
        if stack.flower_url:
            print(f"Flower: {stack.flower_url} (user:password {stack.flower_auth})", file=out)
        if stack.api_url:
            print(f"HTTP API: {stack.api_url}/docs (operator key "
                  f"{stack.api_keys['operator']}, game server key "
                  f"{stack.api_keys['game_server']})", file=out)
            _print_console(stack, out)
        summary = _drive(stack, chosen, bets, out)
    except BaseException:
        stack.stop()
        raise
    _print_summary(summary, as_json)
    if keep:
        _keep(stack, out)
    else:
        stack.stop()
    return 0 if summary.ok else 1


def _print_console(stack: LocalStack, out: TextIO) -> None:
    """Two demo accounts, so a person can sign in and try four eyes: the operator
    proposes a big refund, the approver approves it (reviews stay open to try)."""
    ctx = stack.context()
    logins = {}
    for name, role in (("demo-operator", "operator"), ("demo-approver", "approver")):
        password = secrets.token_urlsafe(12)
        add_account(ctx, name, role, password, by="betguard demo")
        logins[name] = password
    ctx.db.dispose()
    print(f"Console: {stack.api_url}/console (sign in as demo-operator / "
          f"{logins['demo-operator']}, or demo-approver / {logins['demo-approver']})",
          file=out)


def _plan(workdir: Path, scenario: Scenario, settings: Settings) -> LaunchPlan:
    given = settings.model_fields_set
    return LaunchPlan(
        workdir=workdir, policies_toml=POLICIES, providers=PROVIDERS,
        database_url=settings.database_url if "database_url" in given else None,
        redis_url=settings.redis_url, knobs=scenario.knobs, settings_env=SETTINGS_ENV,
        dialects={dialect: {**_shared_knobs(scenario), **knobs}
                  for dialect, knobs in DIALECT_KNOBS.items()},
    )


def _shared_knobs(scenario: Scenario) -> dict[str, object]:
    """The scenario's knobs every provider shares (fates, delays, lags, faults); the
    wallet's belong to the generic simulator, which plays the wallet."""
    return {k: v for k, v in scenario.knobs.items() if not k.startswith("wallet_")}


def _drive(stack: LocalStack, scenario: Scenario, count: int, out: TextIO) -> Summary:
    ctx = stack.context()
    run_id, started = new_run_id(), time.monotonic()
    rng = random.Random(run_id)  # noqa: S311 - the demo's dice, not a secret
    refs = RunRefs.new(run_id, rng)
    outage = _OutageSwitch(stack.sim_url, scenario.outage, started)
    placed = place_bets(ctx, {"generic": stack.sim_url, **stack.dialect_urls}, refs, count, rng)
    samples = _watch(ctx, refs, started, outage, out)
    truth = merge_truths(requests.get(f"{url}/_sim/truth", timeout=30).json()
                         for url in stack.simulator_urls)
    report = stack.plan.workdir / "report.html"
    summary = summarize(ctx.db, refs, placed, truth, scenario=scenario.name,
                        duration=time.monotonic() - started, report=str(report))
    write_report(report, summary, samples)
    ctx.db.dispose()
    return summary


def _watch(ctx: Context, refs: RunRefs, started: float, outage: _OutageSwitch,
           out: TextIO) -> list[Progress]:
    longest = max(p.deadline for p in ctx.policies.values())
    give_up = started + longest + GIVE_UP_AFTER_SECONDS
    samples: list[Progress] = []
    while True:
        outage.update()
        sample = progress(ctx.db, refs, time.monotonic() - started)
        _print_progress(sample, samples[-1] if samples else None, out)
        samples.append(sample)
        if sample.open_bets == 0 or time.monotonic() > give_up:
            return samples
        time.sleep(SAMPLE_SECONDS)


class _OutageSwitch:
    """Turns the simulated provider outage on and off at the scenario's times."""

    def __init__(self, sim_url: str, window: tuple[float, float] | None, started: float) -> None:
        self.sim_url, self.window, self.started, self.down = sim_url, window, started, False

    def update(self) -> None:
        if self.window is None:
            return
        elapsed = time.monotonic() - self.started
        down = self.window[0] <= elapsed < self.window[1]
        if down != self.down:
            requests.post(f"{self.sim_url}/_sim/knobs", json={"outage": down}, timeout=10)
            self.down = down


def _print_progress(sample: Progress, previous: Progress | None, out: TextIO) -> None:
    rate = 0.0
    if previous is not None and sample.seconds > previous.seconds:
        rate = (sample.checks - previous.checks) / (sample.seconds - previous.seconds)
    states = " | ".join(f"{state} {n}" for state, n in sorted(sample.states.items()))
    print(f"{sample.seconds:5.0f}s  {states} | checks/s {rate:5.1f} | provider errors "
          f"{sample.provider_errors}", file=out, flush=True)


def _print_summary(summary: Summary, as_json: bool) -> None:
    if as_json:
        print(json.dumps(summary.as_dict(), indent=2))
        return
    print("\nWhat became of every bet")
    for state, n in sorted(summary.states.items()):
        print(f"  {state:<16}{n:>7}")
    for provider, states in summary.by_provider.items():
        print(f"  {provider}: " + ", ".join(f"{s} {n}" for s, n in sorted(states.items())))
    print("Reviews opened: " + (", ".join(f"{r} {n}" for r, n in summary.reviews.items())
                                or "none"))
    print(f"Provider queries: {summary.provider_queries} "
          f"({summary.provider_queries_per_bet} per bet, "
          f"{summary.provider_queries_per_unreturned_bet} per unreturned bet)")
    print(f"Placement to final state: p50 {summary.seconds_to_final_p50} s, "
          f"p99 {summary.seconds_to_final_p99} s")
    print(f"Lost bets: {summary.lost}   payout mismatches: {summary.payout_mismatches}   "
          f"double refunds: {summary.double_refunds}   "
          f"refunds of bets the provider settled: {summary.refunds_of_settled_bets}   "
          f"dead ends: {summary.dead_ends}")
    print(f"Report: {summary.report}")


def _keep(stack: LocalStack, out: TextIO) -> None:
    env_file = stack.plan.workdir / "env.sh"
    keys = ["DATABASE_URL", "REDIS_URL", "BETGUARD_POLICY_FILE", "BETGUARD_PROVIDER_SECRETS",
            "BETGUARD_WALLET_URL", "BETGUARD_WALLET_SECRET"]
    env_file.write_text("".join(f"export {k}='{stack.env[k]}'\n" for k in keys))
    pids = stack.detach()
    print(f"\nServices keep running. For the CLI: source {env_file}\n"
          f"Stop them with: kill {' '.join(map(str, pids))}", file=out)


def _exit_on_sigterm(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)
