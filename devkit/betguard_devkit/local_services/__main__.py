"""``python -m betguard_devkit.local_services --ensure``: make sure PostgreSQL is installed.

Run by ``make test`` before pytest, so a fresh machine installs the server (and, where it
may, promtool and headless Chromium) up front instead of failing inside a fixture.
"""

from __future__ import annotations

import argparse
import logging

from .browser import ensure_chromium_installed
from .pg_install import ensure_postgres_installed, ensure_promtool_installed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m betguard_devkit.local_services")
    parser.add_argument(
        "--ensure",
        action="store_true",
        help="install PostgreSQL, promtool and Chromium if missing (root + apt-get); report them",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if not args.ensure:
        parser.print_help()
        return 2
    print(f"PostgreSQL server binaries: {ensure_postgres_installed()}")
    print(f"promtool: {ensure_promtool_installed() or 'not installable here'}")
    print(f"chromedriver: {ensure_chromium_installed() or 'not installable here'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
