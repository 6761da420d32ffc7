"""``python -m bench.scale [--quick | --smoke]``: the scale run (see bench/scale/run.py)."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from types import FrameType

from bench.scale.run import FULL, QUICK, SMOKE, main


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="reduced sizes: a few minutes")
    size.add_argument("--smoke", action="store_true",
                      help="the smallest sizes that run every part (the test suite's)")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where the stack keeps its data and logs "
                             "(default var/bench-scale-SIZE)")
    parser.add_argument("--results", type=Path, default=None,
                        help="where scale-SIZE.json and .md go (default bench/results)")
    return parser.parse_args(argv)


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # so that the stack's processes are stopped on the way out


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    args = parse(sys.argv[1:])
    sys.exit(main(SMOKE if args.smoke else QUICK if args.quick else FULL,
                  workdir=args.workdir, results=args.results))
