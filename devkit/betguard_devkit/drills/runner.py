"""``betguard drill SCENARIO``: a real betguard on this machine, bets placed at a steady
pace while faults are injected on a schedule, then an independent audit."""

from __future__ import annotations

import contextlib
import json
import os
import random
import secrets
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import func, select

from betguard.models.domain.outbox import NotificationState
from betguard.models.domain.states import BetState
from betguard.models.store.tables import Bet, Notification
from betguard.services.context import Context
from betguard_devkit import netns, processes
from betguard_devkit.audit import AuditReport, audit, merge_truths, ours
from betguard_devkit.drills.failover import (
    HOSTS,
    failover_injectors,
    failover_lines,
    failover_report,
)
from betguard_devkit.drills.faults import (
    Injector,
    ProviderOutage,
    ProviderRollbacks,
    build_injectors,
    chaos_knobs,
)
from betguard_devkit.drills.load import Placer, persist
from betguard_devkit.drills.probe import IntakeProbe
from betguard_devkit.drills.scenarios import (
    DIALECT_KNOBS,
    DRILLS,
    KINDS,
    POLICIES,
    PROVIDERS,
    RATE_LIMIT,
    SETTINGS_ENV,
    SIMULATOR_ENV,
)
from betguard_devkit.launcher import LaunchPlan, LocalStack
from betguard_devkit.netns import Hosts
from betguard_devkit.runrefs import RunRefs

TICK = 0.2
# After the last bet and fault, how long bets may take to be decided: a minute and a
# half, and more for big runs (refunds and reviews of thousands of bets take a while).
DRAIN_SECONDS = 90.0
DRAIN_SECONDS_PER_BET = 0.025
AUDIT_SLACK = timedelta(seconds=15)  # a sweep interval, a lease and some
OPEN_STATES = {BetState.PENDING.value, BetState.REFUND_PENDING.value}
# The duplicates drill's Celery app (drills/duplicates.py): named, not imported, since
# importing it hooks publishing in this process.
DUPLICATING_APP = "betguard_devkit.drills.duplicates"


def run_drill(name: str, *, bets: int, duration: float, as_json: bool, workdir: str) -> int:
    drill = DRILLS[name]
    out = sys.stderr if as_json else sys.stdout
    print(f"drill {name}: {drill.description}; {bets} bets over {duration:.0f} s", file=out)
    with _hosts_for(drill.faults, out) as hosts:
        stack = LocalStack(_plan(Path(workdir).absolute(), drill.faults, hosts),
                           {**os.environ, **SIMULATOR_ENV})
        try:
            stack.start()
            report = _run(stack, drill.faults, bets, duration, out)
        finally:
            stack.stop()
    report["hosts"] = "network namespaces" if hosts is not None else "loopback processes"
    print(json.dumps(report, indent=2) if as_json else _table(report))
    return 0 if passed(report) else 1


@contextlib.contextmanager
def _hosts_for(faults: tuple[str, ...], out: Any) -> Iterator[Hosts | None]:
    """The failover drill's hosts: a network namespace each, made here and torn down at
    the end, when this machine allows it; loopback processes otherwise."""
    if "redis-failover" not in faults:
        yield None
        return
    with netns.hosts_or_loopback("bgd", HOSTS, lambda line: print(line, file=out)) as hosts:
        yield hosts


def passed(report: dict[str, Any]) -> bool:
    failover = report.get("failover", {})
    return bool(report["audit"]["passed"] and report["rate_ok"]
                and not failover.get("acknowledged_missing")
                and failover.get("max_rate", 0) <= RATE_LIMIT)


def _plan(workdir: Path, faults: tuple[str, ...], hosts: Hosts | None = None) -> LaunchPlan:
    chaos = chaos_knobs() if "provider-chaos" in faults else {}
    failover = "redis-failover" in faults
    return LaunchPlan(
        workdir=workdir, policies_toml=POLICIES, providers=PROVIDERS, knobs=chaos,
        dialects={dialect: {**chaos, **knobs} for dialect, knobs in DIALECT_KNOBS.items()},
        settings_env=dict(SETTINGS_ENV),
        celery_app=DUPLICATING_APP if "duplicates" in faults else processes.CELERY_APP,
        provider_workers=2, provider_concurrency=16, flower=False, api=failover,
        local_postgres=True, redis_over_tcp=True, redis_sentinel=failover,
        postgres_standby=failover, hosts=hosts,
    )


def _run(stack: LocalStack, faults: tuple[str, ...], bets: int, duration: float,
         out: Any) -> dict[str, Any]:
    ctx = stack.context()
    run_id = f"drill-{secrets.token_hex(3)}"
    rng = random.Random(run_id)  # noqa: S311 - a drill's dice, not a secret
    refs = RunRefs.new(run_id, rng)
    injectors = build_injectors(faults, stack, duration, rng)
    if "redis-failover" in faults:
        injectors += failover_injectors(stack, duration)
    injectors.append(ProviderRollbacks(stack, [], refs=refs))
    placer = Placer(ctx, {"generic": stack.sim_url, **stack.dialect_urls}, refs, rng)
    probe = (IntakeProbe(stack.api_url, stack.sim_url, stack.api_keys["game_server"], refs)
             .start() if stack.api_url else None)
    started = time.monotonic()
    while len(placer.placed) < bets or not all(i.done for i in injectors):
        elapsed = time.monotonic() - started
        due = min(bets, int(bets * min(elapsed / duration, 1.0))) - len(placer.placed)
        placer.place(due)
        for injector in injectors:
            injector.tick(elapsed)
        time.sleep(TICK)
    if probe is not None:
        probe.stop()
    _drain(ctx, refs, out, max(DRAIN_SECONDS, bets * DRAIN_SECONDS_PER_BET), injectors)
    report = _report(stack, ctx, refs, placer, injectors, time.monotonic() - started)
    if probe is not None:
        report["failover"] = failover_report(ctx, refs, probe, injectors, stack.sim_url)
    return report


def _drain(ctx: Context, refs: RunRefs, out: Any, seconds: float,
           injectors: list[Injector]) -> None:
    """Wait until every bet is decided (or with a person) and every notification is
    delivered or dead, or ``seconds`` have passed."""
    give_up = time.monotonic() + seconds
    while time.monotonic() < give_up:
        for injector in injectors:
            injector.tick(0.0)  # the providers go on pushing their own rollbacks
        states, notifications = persist(lambda: _open_work(ctx, refs))
        open_bets = sum(n for state, n in states.items() if state in OPEN_STATES)
        print(f"  open bets: {open_bets}  notifications pending: {notifications}  "
              f"states: {states}", file=out, flush=True)
        if open_bets == 0 and notifications == 0:
            return
        time.sleep(1.0)


def _open_work(ctx: Context, refs: RunRefs) -> tuple[dict[str, int], int]:
    mine = ours(Bet.bet_ref, refs.prefixes)
    with ctx.db.unit_of_work() as session:
        states = dict(session.execute(
            select(Bet.state, func.count()).where(mine).group_by(Bet.state)).all())
        notifications = session.scalar(
            select(func.count()).select_from(Notification).join(Bet, Bet.id == Notification.bet_id)
            .where(mine, Notification.state == NotificationState.PENDING.value))
    return states, int(notifications or 0)


def _report(stack: LocalStack, ctx: Context, refs: RunRefs, placer: Placer,
            injectors: list[Injector], seconds: float) -> dict[str, Any]:
    truth = merge_truths(requests.get(f"{url}/_sim/truth", timeout=60).json()
                         for url in stack.simulator_urls)
    with ctx.db.unit_of_work() as session:
        result: AuditReport = audit(session, truth, now=datetime.now(UTC), slack=AUDIT_SLACK,
                                    prefix=refs.prefixes)
    rate = _rate_after_outage(stack, injectors)
    faults = [vars(i) for injector in injectors for i in injector.log]
    injected = Counter(f["fault"] for f in faults)
    injected["provider-fault"] = truth["counts"].get("faults_injected", 0)
    injected["duplicate-delivery"] = _duplicate_deliveries(ctx, refs)
    late = [fact for ref, fact in truth["bets"].items()
            if ref.startswith(refs.prefixes) and fact.get("lag", 0) > 0]
    injected["late-registration"] = len(late)
    return {
        "bets": len(placer.placed), "seconds": round(seconds, 1),
        "fenced": sum(1 for fact in late if fact.get("fenced")),
        "faults": faults, "faults_injected": {k: v for k, v in injected.items() if v},
        "outcomes": result.states, "by_provider": _outcomes_by_provider(ctx, refs),
        "audit": result.as_dict(),
        "rate_limit": RATE_LIMIT, "max_rate_after_recovery": rate,
        "rate_ok": rate is None or rate <= RATE_LIMIT,
    }


def _outcomes_by_provider(ctx: Context, refs: RunRefs) -> dict[str, dict[str, int]]:
    """Each provider's (so each kind of API's) bets per state."""
    found: dict[str, dict[str, int]] = {}
    with ctx.db.unit_of_work() as session:
        rows = session.execute(select(Bet.provider, Bet.state, func.count())
                               .where(ours(Bet.bet_ref, refs.prefixes))
                               .group_by(Bet.provider, Bet.state))
        for provider, state, count in rows:
            found.setdefault(f"{provider} ({KINDS[provider]})", {})[state] = count
    return dict(sorted(found.items()))


def _duplicate_deliveries(ctx: Context, refs: RunRefs) -> int:
    """Check messages that arrived for an attempt already taken: absorbed, counted."""
    with ctx.db.unit_of_work() as session:
        total = session.scalar(select(func.sum(Bet.duplicate_deliveries))
                               .where(ours(Bet.bet_ref, refs.prefixes)))
    return int(total or 0)


def _rate_after_outage(stack: LocalStack, injectors: list[Injector]) -> int | None:
    """The most provider requests for alpha in any whole second after the outage ended,
    read from the simulator's own log."""
    ended = next((i.ended_at for i in injectors if isinstance(i, ProviderOutage)), None)
    if ended is None:
        return None
    log = requests.get(f"{stack.sim_url}/_sim/log", params={"since": ended}, timeout=60).json()
    # Drill bet references name their provider, so the paths tell alpha's traffic apart.
    per_second = Counter(int(r["t"]) for r in log["requests"]
                         if r["path"].startswith("/bets/") and "-alpha-" in r["path"])
    return max(per_second.values(), default=0)


def _table(report: dict[str, Any]) -> str:
    lines = [f"\n{report['bets']} bets in {report['seconds']} s"]
    if "failover" in report:
        lines.append(f"workers, beat and the API ran as: {report['hosts']}")
    lines.append("faults injected: " + (", ".join(
        f"{k} ×{v}" for k, v in report["faults_injected"].items()) or "none"))
    if report["faults_injected"].get("late-registration"):
        lines.append(f"late registrations: {report['faults_injected']['late-registration']} "
                     f"({report['fenced']} fenced by a cancel before the provider knew them)")
    outcomes = sorted(report["outcomes"].items())
    lines.append("outcomes: " + ", ".join(f"{k} {v}" for k, v in outcomes))
    for provider, states in report["by_provider"].items():
        lines.append(f"  {provider}: " + ", ".join(f"{k} {v}" for k, v in sorted(states.items())))
    for check in report["audit"]["checks"]:
        mark = "PASS" if check["passed"] else "FAIL"
        lines.append(f"  {mark}  {check['name']:<34} {check['checked']:>7} checked, "
                     f"{check['failures']} failed {check['examples'] if check['failures'] else ''}")
    if report["max_rate_after_recovery"] is not None:
        lines.append(f"provider requests after recovery: at most "
                     f"{report['max_rate_after_recovery']}/s (limit {report['rate_limit']:.0f}/s)")
    if "failover" in report:
        lines += failover_lines(report["failover"])
    lines.append("verdict: " + ("PASS" if passed(report) else "FAIL"))
    return "\n".join(lines)
