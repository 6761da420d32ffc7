"""Quick versions of every drill: real processes, real faults, and the audit passes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from betguard_devkit import netns

pytestmark = pytest.mark.integration

BETGUARD = str(Path(sys.executable).parent / "betguard")
# provider-chaos alone is not here: the quick failover drill below runs it, with more.
# "all" injects every fault of the others at once, so `make test` runs it alone; the
# drills of one fault each (to tell which fault broke something) are marked `drill`, and
# `make drill` runs them with the full-size drills.
ONE_FAULT = ["worker-kills", "redis-loss", "db-restart", "duplicates"]
SCENARIOS = [*(pytest.param(s, marks=pytest.mark.drill) for s in ONE_FAULT), "all"]
EXPECTED_FAULTS = {
    "worker-kills": {"worker-kill"},
    "redis-loss": {"redis-loss"},
    "db-restart": {"db-restart"},
    "failover": {"redis-failover", "postgres-failover", "worker-cut-off", "beat-move",
                 "provider-outage", "provider-fault", "late-registration"},
    "duplicates": {"duplicate-delivery"},
    "all": {"worker-kill", "redis-loss", "db-restart", "provider-outage", "provider-fault",
            "duplicate-delivery", "late-registration"},
}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_a_quick_drill_injects_its_faults_and_the_audit_finds_nothing_wrong(
    scenario: str, tmp_path: Path
) -> None:
    done = subprocess.run(
        [BETGUARD, "drill", scenario, "--bets", "200", "--duration", "6", "--json",
         "--workdir", str(tmp_path / scenario)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    report = json.loads(done.stdout)
    checks = {check["name"]: check for check in report["audit"]["checks"]}

    assert done.returncode == 0, done.stderr[-3000:]
    assert report["bets"] == 200
    assert EXPECTED_FAULTS[scenario] <= set(report["faults_injected"])
    assert checks["nothing lost"]["failures"] == 0
    assert checks["one refund per refunded bet"]["failures"] == 0
    assert checks["no refund without a refunded bet"]["failures"] == 0
    assert checks["decided once"]["failures"] == 0
    assert checks["payouts match the provider"]["failures"] == 0
    assert checks["no refund of a bet the provider settled"]["failures"] == 0
    unfinished = sum(report["outcomes"].get(state, 0)
                     for state in ("pending", "refund_pending", "in_review"))
    assert checks["no dead end"]["failures"] == 0
    assert checks["no dead end"]["checked"] == unfinished  # it looked at every one of them
    assert sum(report["outcomes"].values()) == 200
    if "provider-outage" in EXPECTED_FAULTS[scenario]:
        assert report["max_rate_after_recovery"] <= report["rate_limit"]


def test_a_quick_failover_drill_loses_nothing_across_each_machine_lost(tmp_path: Path) -> None:
    """On Redis Sentinel and a PostgreSQL standby, with the provider chaos: the Redis
    master and the PostgreSQL primary SIGKILLed, a worker cut off past its leases, beat
    moved; bets also through POST /bets of the real API."""
    done = subprocess.run(
        [BETGUARD, "drill", "failover", "--bets", "300", "--duration", "15", "--json",
         "--workdir", str(tmp_path / "failover")],
        capture_output=True, text=True, timeout=420, check=False,
    )
    assert done.stdout.startswith("{"), done.stderr[-5000:]
    report = json.loads(done.stdout)
    checks = {check["name"]: check for check in report["audit"]["checks"]}
    failover = report["failover"]

    assert done.returncode == 0, done.stderr[-3000:]
    assert EXPECTED_FAULTS["failover"] <= set(report["faults_injected"])
    assert all(check["failures"] == 0 for check in checks.values()), checks
    assert checks["no dead end"]["checked"] == sum(
        report["outcomes"].get(state, 0) for state in ("pending", "refund_pending", "in_review"))
    assert failover["intake_probes_acknowledged"] > 0
    assert failover["acknowledged_missing"] == [] and failover["intake_probes_refused"] == []
    assert failover["max_rate"] <= report["rate_limit"]
    assert report["max_rate_after_recovery"] <= report["rate_limit"]
    # As root (CI), every worker, beat and the API is a host of its own: a network
    # namespace; the cut-off is its link going down.
    expected_hosts = "network namespaces" if netns.unavailable() is None else "loopback processes"
    assert report["hosts"] == expected_hosts
    assert all(seconds != [None] for seconds in failover["first_settled_after"].values()), \
        failover["first_settled_after"]
