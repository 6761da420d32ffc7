"""The installed layout as a tree of links, for tools that read files instead of importing.

The folders stay at the top of the repository and install as ``betguard.config``,
``betguard.models``, ... (``[tool.setuptools.package-dir]`` in pyproject.toml). Python
finds them through the editable install's import hook; mypy and import-linter walk the
file system and do not. This script builds ``build/lint/``: ``betguard/`` holds a link to
every entry of the ``betguard`` folder and one to each mapped folder under its installed
name; ``bench`` links to the benchmarks and ``betguard_devkit`` to the developer tooling
(devkit/, a distribution of its own). Run the tools from there (see the Makefile).
"""

from __future__ import annotations

import shutil
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TREE = ROOT / "build" / "lint"
EXTRA = {"bench": "bench", "betguard_devkit": "devkit/betguard_devkit"}  # name -> folder


def package_dirs() -> dict[str, Path]:
    """Installed package name -> folder, from pyproject.toml's package-dir table."""
    with (ROOT / "pyproject.toml").open("rb") as f:
        mapping = tomllib.load(f)["tool"]["setuptools"]["package-dir"]
    return {name: ROOT / folder for name, folder in mapping.items()}


def build() -> Path:
    if TREE.exists():
        shutil.rmtree(TREE)
    package = TREE / "betguard"
    package.mkdir(parents=True)
    for entry in (ROOT / "betguard").iterdir():
        if entry.name != "__pycache__":
            (package / entry.name).symlink_to(entry)
    for name, folder in package_dirs().items():
        parent, _, leaf = name.rpartition(".")
        if parent != "betguard":
            raise SystemExit(f"pyproject.toml: package-dir {name!r} is not directly under betguard")
        (package / leaf).symlink_to(folder)
    for name, folder in EXTRA.items():
        (TREE / name).symlink_to(ROOT / folder)
    (TREE / "pyproject.toml").symlink_to(ROOT / "pyproject.toml")
    return TREE


if __name__ == "__main__":
    sys.stdout.write(f"{build()}\n")
