"""``python -m bench [--quick]``: run every scenario and print the table (see bench/run.py)."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from types import FrameType

from bench.run import main


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="reduced sizes: about a minute (what `make bench-quick` runs)")
    parser.add_argument("--smoke", action="store_true",
                        help="the smallest sizes that run every scenario (the test suite's)")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where the stack keeps its data and logs (default var/bench-SIZE)")
    parser.add_argument("--results", type=Path, default=None,
                        help="where the JSON, table and plot go (default bench/results)")
    parser.add_argument("--only", choices=["isolation"], default=None,
                        help="run this scenario alone (written to latest.json only)")
    return parser.parse_args(argv)


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # so that the stack's processes are stopped on the way out


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    args = parse(sys.argv[1:])
    sys.exit(main(quick=args.quick, smoke=args.smoke, workdir=args.workdir, results=args.results,
                  only=args.only))
