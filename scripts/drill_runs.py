"""Run a drill several times in a row and tell how each run ended.

A drill that fails one run in five is a finding, so one green run proves little: this
runs ``betguard drill SCENARIO`` RUNS times, each in a fresh work folder, keeps every
run's report and prints one line a run (verdict, seconds, failed audit lines), then
the tally. It stops at the first failure unless ``--keep-going``; the exit code is 0
only when every run passed.

    .venv/bin/python scripts/drill_runs.py --runs 10 -- all --bets 2000
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BETGUARD = ROOT / ".venv" / "bin" / "betguard"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="how many runs (default 10)")
    parser.add_argument("--workdir", type=Path, default=ROOT / "var" / "drill-runs",
                        help="where each run keeps its servers, logs and report")
    parser.add_argument("--keep-going", action="store_true",
                        help="run them all, even after a failure")
    parser.add_argument("drill", nargs="+", help="the drill's own arguments, e.g. all --bets 2000")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs: at least 1")
    failures = 0
    for number in range(1, args.runs + 1):
        passed = run_once(number, args.drill, args.workdir / f"run-{number:02d}")
        failures += not passed
        if not passed and not args.keep_going:
            break
    ran = number
    print(f"{ran - failures} of {ran} runs passed" + (f", {failures} failed" if failures else ""))
    return 0 if failures == 0 and ran == args.runs else 1


def run_once(number: int, drill: list[str], workdir: Path) -> bool:
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    completed = subprocess.run(  # noqa: S603 - our own command, arguments from our caller
        [str(BETGUARD), "drill", *drill, "--json", "--workdir", str(workdir)],
        capture_output=True, text=True, check=False)
    seconds = time.monotonic() - started
    (workdir / "report.json").write_text(completed.stdout)
    (workdir / "stderr.log").write_text(completed.stderr)
    failed = failed_checks(completed.stdout)
    passed = completed.returncode == 0 and not failed
    outcomes = ""
    with contextlib.suppress(json.JSONDecodeError):
        outcomes = " " + json.dumps(json.loads(completed.stdout).get("outcomes", {}))
    verdict = "PASS" if passed else "FAIL"
    detail = "; ".join(failed) if failed else (
        "" if passed else f"exit {completed.returncode}, see {workdir}/stderr.log")
    print(f"run {number:2d}: {verdict} in {seconds:.0f} s{outcomes} {detail}".rstrip(), flush=True)
    return passed


def failed_checks(report: str) -> list[str]:
    """The audit lines that failed (and a broken rate limit), from the drill's report."""
    try:
        data = json.loads(report)
    except json.JSONDecodeError:
        return ["no readable report"]
    audit = data.get("audit", {})
    failed = [f"{c['name']}: {c['failures']} failed" for c in audit.get("checks", [])
              if not c.get("passed")]
    if data.get("rate_ok") is False:
        failed.append(f"rate limit: {data.get('max_rate_after_recovery')}/s after recovery")
    if not failed and not audit.get("passed", False):
        failed.append("audit failed")
    return failed


if __name__ == "__main__":
    sys.exit(main())
