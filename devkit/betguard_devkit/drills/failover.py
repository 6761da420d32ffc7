"""The failover drill's faults (``betguard drill failover``): the loss of each stateful
machine, as docs/high-availability.md says betguard survives it.

- the Redis master is SIGKILLed; the sentinels promote the replica; the old master
  comes back later as a replica of the new one;
- the PostgreSQL primary is SIGKILLed; the drill promotes the standby, as Patroni
  would, and keeps the old primary down (fenced);
- a provider worker host is cut off for longer than a check's lease while it holds
  checks: its process is frozen (SIGSTOP) and thawed (SIGCONT), so it wakes up after
  its leases with calls and decisions in flight, which the database must refuse;
- beat is stopped and started again elsewhere (a fresh process with a schedule file
  of its own, as on another host).

Each records when it struck (``struck_at``, wall clock), so the report can say how
long it took until the first check settled after it.
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, ClassVar

import requests
from sqlalchemy import func, select

from betguard.models.domain.events import EventKind
from betguard.models.store.tables import AuditEvent, Bet
from betguard.services.context import Context
from betguard_devkit import processes
from betguard_devkit.audit import ours
from betguard_devkit.drills.faults import Injector
from betguard_devkit.drills.load import persist
from betguard_devkit.drills.probe import PROVIDER, IntakeProbe
from betguard_devkit.drills.scenarios import RATE_LIMIT
from betguard_devkit.launcher import LocalStack
from betguard_devkit.runrefs import RunRefs

# Longer than a check's lease in the drills (BETGUARD_CHECK_LEASE, scenarios.py): the
# worker wakes up after every lease it held has run out and been taken over.
CUT_OFF_SECONDS = 8.0
# The hosts of the drill's processes, in network namespaces when the machine allows it:
# a provider worker each, the default worker, beat (and the host it moves to), the API.
HOSTS = ("provider1", "provider2", "default", "beat", "beat2", "api")
CUT_OFF_HOST = "provider1"


@dataclass
class Struck(Injector):
    """An injector whose strikes are timed for the report."""

    struck_at: list[float] = field(default_factory=list)

    def strike(self) -> None:
        self.struck_at.append(time.time())


@dataclass
class RedisFailover(Struck):
    name: ClassVar[str] = "redis-failover"

    def act(self) -> str:
        group = self.stack.sentinels
        assert group is not None, "the drill needs Redis through Sentinel"
        old = group.master_address()
        assert old is not None, "no sentinel names a master"
        self.strike()
        killed = group.kill_master()
        new = group.wait_for_failover(old)
        promoted = time.time() - self.struck_at[-1]
        killed.start()  # back as a replica of the new master (the sentinels reconfigure it)
        return (f"SIGKILL Redis master {old[0]}:{old[1]}; the sentinels promoted "
                f"{new[0]}:{new[1]} in {promoted:.1f} s; the old master is back as a replica")


@dataclass
class PostgresFailover(Struck):
    name: ClassVar[str] = "postgres-failover"

    def act(self) -> str:
        pair = self.stack.pg_pair
        assert pair is not None, "the drill needs PostgreSQL with a standby"
        old = pair.primary
        self.strike()
        new = pair.fail_over()
        took = time.time() - self.struck_at[-1]
        return (f"SIGKILL PostgreSQL primary :{old.port}; standby :{new.port} promoted in "
                f"{took:.1f} s; the old primary is fenced (kept down)")


@dataclass
class WorkerCutOff(Struck):
    """Cuts a provider worker's host off at the first moment (its link down, in a network
    namespace; without namespaces its process is frozen), reconnects it at the second."""

    frozen: processes.ManagedProcess | None = None

    name: ClassVar[str] = "worker-cut-off"

    def act(self) -> str:
        hosts = self.stack.plan.hosts
        if self.frozen is None:
            self.frozen = next(w for w in self.stack.workers if CUT_OFF_HOST in w.name)
            if hosts is not None:
                hosts.cut_off(CUT_OFF_HOST)
                return f"host {CUT_OFF_HOST} partitioned away (link down) mid-work"
            os.kill(self.frozen.pid, signal.SIGSTOP)
            return f"{self.frozen.name} (pid {self.frozen.pid}) cut off: frozen mid-work"
        if hosts is not None:
            hosts.reconnect(CUT_OFF_HOST)
        else:
            os.kill(self.frozen.pid, signal.SIGCONT)
        self.strike()
        return f"{self.frozen.name} back, past its leases: what it still writes must be refused"


@dataclass
class BeatMove(Struck):
    name: ClassVar[str] = "beat-move"

    def act(self) -> str:
        beat = next(c for c in self.stack.children if c.name == "beat")
        beat.stop()
        self.strike()
        moved = self.stack.on_host("beat2", processes.beat(
            beat.env, beat.log.with_name("beat-moved.log"),
            schedule_file=self.stack.plan.workdir / "beat-schedule-moved",
            app=self.stack.plan.celery_app)).start()
        self.stack.children[self.stack.children.index(beat)] = moved
        return f"beat stopped (pid {beat.pid}); a new beat runs elsewhere (pid {moved.pid})"


def failover_injectors(stack: LocalStack, duration: float) -> list[Injector]:
    """Redis first: after its failover the guards hold provider calls for up to their
    longest lease (docs/high-availability.md), and in a full-size run the other faults
    come after that, while workers have calls in flight again."""
    cut = duration * 0.5
    return [RedisFailover(stack, [duration * 0.1]),
            WorkerCutOff(stack, [cut, cut + CUT_OFF_SECONDS]),
            PostgresFailover(stack, [duration * 0.7]),
            BeatMove(stack, [duration * 0.85])]


def failover_report(ctx: Context, refs: RunRefs, probe: IntakeProbe,
                    injectors: list[Injector], sim_url: str) -> dict[str, Any]:
    """Intake's unavailability, the acknowledged intakes the database does not hold, and
    how long after each strike the first check settled a bet."""
    stored = persist(lambda: _stored(ctx, probe.acknowledged))
    cut_off = next(i for i in injectors if isinstance(i, WorkerCutOff))
    return {
        "refused_after_cut_off": _refused_writes(cut_off),
        "max_rate": _max_rate(sim_url, probe.started_at),
        "intake_probes_acknowledged": len(probe.acknowledged),
        "intake_probes_refused": probe.refused[:5],
        "acknowledged_missing": sorted(set(probe.acknowledged) - stored)[:20],
        "intake_unavailable_longest_s": round(probe.longest_gap, 1),
        "intake_gaps": probe.gaps,
        "first_settled_after": {
            injector.name: [persist(partial(_first_settled_after, ctx, refs, at))
                            for at in injector.struck_at]
            for injector in injectors if isinstance(injector, Struck)},
    }


def failover_lines(failover: dict[str, Any]) -> list[str]:
    lines = [f"intake through POST /bets: {failover['intake_probes_acknowledged']} acknowledged, "
             f"{len(failover['acknowledged_missing'])} of them missing; longest time without "
             f"a successful POST /bets: {failover['intake_unavailable_longest_s']} s"]
    lines.append(f"provider requests of the rate-limited provider: at most "
                 f"{failover['max_rate']}/s over the whole run (limit {RATE_LIMIT:.0f}/s)")
    refused = failover["refused_after_cut_off"]
    lines.append(f"the cut-off worker, back after its leases: {refused['stale']} claims and "
                 f"{refused['superseded']} decisions refused (others had taken them over)")
    for name, seconds in failover["first_settled_after"].items():
        shown = ", ".join("none" if s is None else f"{s} s" for s in seconds)
        lines.append(f"  first check settled after {name}: {shown}")
    return lines


def _stored(ctx: Context, refs: list[str]) -> set[str]:
    found: set[str] = set()
    with ctx.db.unit_of_work() as session:
        for start in range(0, len(refs), 500):
            chunk = refs[start:start + 500]
            found.update(session.scalars(select(Bet.bet_ref).where(Bet.bet_ref.in_(chunk))))
    return found


def _first_settled_after(ctx: Context, refs: RunRefs, at: float) -> float | None:
    """Seconds from ``at`` (wall clock) to the first bet of the run a check settled."""
    since = datetime.fromtimestamp(at, UTC)
    with ctx.db.unit_of_work() as session:
        first = session.scalar(
            select(func.min(AuditEvent.at)).join(Bet, Bet.id == AuditEvent.bet_id)
            .where(ours(Bet.bet_ref, refs.prefixes), AuditEvent.at > since,
                   AuditEvent.kind == EventKind.BET_SETTLED.value,
                   AuditEvent.actor.like("provider:%")))
    return None if first is None else round((first - since).total_seconds(), 1)


def _refused_writes(cut_off: WorkerCutOff) -> dict[str, int]:
    """What the database refused the cut-off worker when it came back, from its log:
    claims of attempts others had taken over meanwhile (``stale``), and conclusions
    of checks whose bet had moved on (``superseded``)."""
    refused = {"stale": 0, "superseded": 0}
    if cut_off.frozen is None or not cut_off.struck_at:
        return refused
    back = datetime.fromtimestamp(cut_off.struck_at[0]).strftime("%Y-%m-%d %H:%M:%S")  # noqa: DTZ006 - the log's local time
    for line in cut_off.frozen.log.read_text(errors="replace").splitlines():
        if line[1:20] < back or "Task " in line:
            continue
        for outcome in refused:
            single = re.search(rf": check \d+ {outcome}$", line)
            batched = re.search(rf"batched check of \d+ bets: .*'{outcome}': (\d+)", line)
            refused[outcome] += 1 if single else int(batched[1]) if batched else 0
    return refused


def _max_rate(sim_url: str, since: float) -> int:
    """The most requests for the rate-limited provider in any whole second since
    ``since``, from the simulator's own log (its references name their provider)."""
    log = requests.get(f"{sim_url}/_sim/log", params={"since": since}, timeout=60).json()
    per_second = Counter(int(r["t"]) for r in log["requests"]
                         if r["path"].startswith("/bets/") and f"-{PROVIDER}-" in r["path"])
    return max(per_second.values(), default=0)
