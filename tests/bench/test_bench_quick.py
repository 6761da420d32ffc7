"""`python -m bench` works in the test environment, at its smallest sizes (`--smoke`;
`make bench-quick` and `make bench` run the same scenarios bigger): it starts its own
PostgreSQL, Redis, simulator and workers, runs every scenario and writes every figure.
The figures themselves are reported, not asserted: timings on a shared machine are not
a test."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from bench.figures import KEYS

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def test_the_quick_bench_measures_every_figure_and_writes_them_as_json() -> None:
    base = Path(tempfile.mkdtemp(prefix="betguard-bench-"))
    base.chmod(0o755)  # PostgreSQL runs as its own user and must reach its folder
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--workdir", str(base / "work"),
         "--results", str(base / "results")],
        cwd=ROOT, capture_output=True, text=True, timeout=900, check=False,
    )

    assert done.returncode == 0, done.stderr[-4000:]
    figures = json.loads((base / "results" / "latest.json").read_text())
    assert set(KEYS) <= set(figures), f"missing: {set(KEYS) - set(figures)}"
    for key in KEYS:
        figure = figures[key]
        assert {"value", "reference", "ratio", "target", "met"} <= set(figure), key
        assert not math.isnan(figure["value"]), f"{key}: {figure['notes']}\n{done.stderr[-4000:]}"
    assert all(key in done.stdout for key in KEYS)
    assert (base / "results" / "catchup-smoke.svg").read_text().startswith("<svg")
