"""`python -m bench.scale` works in the test environment, at its smallest sizes (`--smoke`;
`make bench-scale` runs it full size): it starts the high-availability stack with its
worker hosts, drives the HTTP intake and the raw loops with the load generator, runs
checks on each set of worker hosts, and writes every figure. The figures themselves are
reported, not asserted: timings on a shared machine are not a test; that each was
measured (bets placed, checks answered, no failed request) is."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
PATHS = ("raw_one_loop", "raw_single", "api_single", "api_single_per_core", "raw_batch",
         "api_batch")


def test_the_scale_run_measures_every_part_and_writes_them() -> None:
    base = Path(tempfile.mkdtemp(prefix="betguard-scale-"))
    base.chmod(0o755)  # PostgreSQL runs as its own user and must reach its folder
    done = subprocess.run(
        [sys.executable, "-m", "bench.scale", "--smoke", "--workdir", str(base / "work"),
         "--results", str(base / "results")],
        cwd=ROOT, capture_output=True, text=True, timeout=900, check=False,
    )

    assert done.returncode == 0, done.stderr[-4000:]
    found = json.loads((base / "results" / "scale-smoke.json").read_text())
    for path in PATHS:
        load = found["intake"][path]
        assert load["bets_per_second"] > 0 and load["failures"] == 0, (path, load)
        assert load["p99_ms"] >= load["p50_ms"] > 0, (path, load)
    assert found["intake"]["api_single"]["wal_bytes_per_bet"] > 0
    assert [step["api"]["concurrency"] for step in found["rising"]] == [1, 4]
    assert set(found["synchronous_standby"]) == {"synchronous", "asynchronous"}
    assert found["stored"]["bets_table_bytes_per_bet"] > 0
    assert [(s["hosts"], s["processes_per_host"]) for s in found["workers"]] == [(1, 1), (2, 1)]
    assert all(s["checks_per_second"] > 0 for s in found["workers"]), found["workers"]
    assert found["noop"]["tasks_per_second"] > 0 and found["noop"]["processes_per_host"] >= 1
    report = (base / "results" / "scale-smoke.md").read_text()
    assert "Checks per second by worker hosts" in report and "No-op Celery tasks" in report
