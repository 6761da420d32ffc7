"""The project installs one name, ``betguard``: its top-level folders install under it, and
every import uses the installed names. The developer tooling is a distribution of its own
(devkit/, installing ``betguard_devkit``) that the product never imports."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]
MAPPED = {folder: name for name, folder in SETUPTOOLS["package-dir"].items()}
SOURCE_FOLDERS = ("betguard", *MAPPED, "devkit", "bench", "tests", "scripts")
DEVKIT = tomllib.loads((ROOT / "devkit" / "pyproject.toml").read_text())


def installed_name(package: Path) -> str:
    top, *rest = package.relative_to(ROOT).parts
    return ".".join([MAPPED.get(top, top), *rest])


def packages_on_disk() -> set[str]:
    return {installed_name(init.parent)
            for folder in ("betguard", *MAPPED)
            for init in (ROOT / folder).rglob("__init__.py")}


def python_files() -> list[Path]:
    return [path for folder in SOURCE_FOLDERS for path in (ROOT / folder).rglob("*.py")
            if "__pycache__" not in path.parts]


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_every_package_folder_is_installed_under_betguard() -> None:
    assert set(SETUPTOOLS["packages"]) == packages_on_disk()


def test_every_mapped_folder_installs_directly_under_betguard() -> None:
    assert all(name == f"betguard.{folder}" for folder, name in MAPPED.items())


def test_every_devkit_package_folder_is_installed() -> None:
    folders = {".".join(init.parent.relative_to(ROOT / "devkit").parts)
               for init in (ROOT / "devkit" / "betguard_devkit").rglob("__init__.py")}

    assert set(DEVKIT["tool"]["setuptools"]["packages"]) == folders


def test_the_devkit_is_released_with_the_betguard_it_depends_on() -> None:
    version = PYPROJECT["project"]["version"]

    assert DEVKIT["project"]["version"] == version
    assert f"betguard=={version}" in DEVKIT["project"]["dependencies"]


def test_the_product_never_imports_the_devkit() -> None:
    offenders = sorted(f"{path.relative_to(ROOT)}: {module}"
                       for folder in ("betguard", *MAPPED)
                       for path in (ROOT / folder).rglob("*.py")
                       for module in imported_modules(path)
                       if module.split(".")[0] == "betguard_devkit")
    assert offenders == []


def test_no_module_imports_a_folder_by_its_bare_name() -> None:
    bare = {folder.split("/")[0] for folder in MAPPED}
    offenders = sorted(f"{path.relative_to(ROOT)}: {module}"
                       for path in python_files()
                       for module in imported_modules(path)
                       if module.split(".")[0] in bare)
    assert offenders == []
