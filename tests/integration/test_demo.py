"""`betguard demo` runs the whole pipeline, reports what became of every bet and
leaves nothing running."""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.integration.harness import BETGUARD, Stack

pytestmark = pytest.mark.integration


def run_demo(workdir: Path, env: dict[str, str], *args: str) -> dict[str, object]:
    done = subprocess.run(
        [BETGUARD, "demo", "--json", "--workdir", str(workdir), *args],
        env=env, capture_output=True, text=True, timeout=240, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summary: dict[str, object] = json.loads(done.stdout)
    return summary


def processes_mentioning(marker: str) -> list[int]:
    """Live processes whose command line or environment names ``marker``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            blob = (proc / "cmdline").read_bytes() + (proc / "environ").read_bytes()
        except OSError:
            continue
        if marker.encode() in blob:
            found.append(int(proc.name))
    return found


def bare_env(stack: Stack) -> dict[str, str]:
    """The machine's environment without the test stack's settings."""
    return {k: v for k, v in stack.env.items()
            if not k.startswith("BETGUARD_") and k not in ("DATABASE_URL", "REDIS_URL")}


def states_in(database_url: str) -> Counter[str]:
    """Bets per state in a database the demo had to itself (its providers word their
    references differently, so no one prefix finds them all)."""
    engine = create_engine(database_url)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT state, count(*) FROM bets GROUP BY state")).all()
    engine.dispose()
    return Counter({state: n for state, n in rows})


def test_the_embedded_demo_decides_every_bet_and_leaves_no_process_behind(
    stack: Stack, tmp_path: Path
) -> None:
    workdir = tmp_path / "demo-embedded"

    summary = run_demo(workdir, bare_env(stack), "--bets", "80")

    assert summary["lost"] == 0
    assert summary["bets"] == 80
    assert summary["payout_mismatches"] == summary["double_refunds"] == 0
    assert summary["dead_ends"] == 0
    assert states_in(f"sqlite:///{workdir / 'betguard.db'}") == Counter(summary["states"])
    assert {"settled", "refunded"} <= set(summary["states"])  # type: ignore[arg-type]
    # Three kinds of provider at once, each of them settling bets.
    assert sorted(summary["by_provider"]) == [  # type: ignore[call-overload]
        "acme (generic)", "lotus (pgsoft)", "orchid (pragmatic)", "zenith (generic)"]
    assert all("settled" in states for states in summary["by_provider"].values())  # type: ignore[attr-defined]
    report = Path(str(summary["report"])).read_text()
    assert "<svg" in report and report.count("<polyline") == 5
    assert processes_mentioning(str(workdir)) == []


def test_the_demo_on_postgresql_and_redis_gives_the_same_kinds_of_outcomes(
    stack: Stack, tmp_path: Path
) -> None:
    database_url = stack.postgres.create_database("demo")
    env = {**bare_env(stack), "DATABASE_URL": database_url,
           "REDIS_URL": stack.redis.url.rsplit("/", 1)[0] + "/5"}  # its own queues
    workdir = tmp_path / "demo-pg"

    summary = run_demo(workdir, env, "--bets", "80")

    assert summary["lost"] == 0
    assert states_in(database_url) == Counter(summary["states"])
    assert {"settled", "refunded"} <= set(summary["states"])  # type: ignore[arg-type]
    assert not (workdir / "betguard.db").exists()
    assert processes_mentioning(str(workdir)) == []
