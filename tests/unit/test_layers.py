"""The layers import one way: pyproject.toml's import-linter contracts say how, and
``make lint`` holds the code to them. These tests keep the contracts whole (every module
of models/ is in its domain or its store package, every module they name exists), and check
the Celery wiring the layering put in the composition root: the workers' target runs the
composition root's app with every task, and a process that only publishes loads no task."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

from betguard.config import celery as celery_config

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
FOLDERS = {name: ROOT / folder
           for name, folder in PYPROJECT["tool"]["setuptools"]["package-dir"].items()}
CONTRACTS = PYPROJECT["tool"]["importlinter"]["contracts"]
TASK_NAMES = {celery_config.CHECK_TASK, celery_config.BATCH_CHECK_TASK,
              celery_config.REFUND_TASK, celery_config.PLACE_TASK, celery_config.SWEEP_TASK,
              celery_config.NOTIFY_TASK, celery_config.FEED_TASK,
              celery_config.RECONCILE_TASK, celery_config.GAMES_TASK}


def layers() -> list[set[str]]:
    """The layers contract's layers, top first, each as its set of module names."""
    (contract,) = [c for c in CONTRACTS if c["type"] == "layers"]
    return [{name.strip() for name in re.split(r"[|:]", layer)} for layer in contract["layers"]]


def contract_named(name_start: str) -> dict[str, Any]:
    (contract,) = [c for c in CONTRACTS if c["name"].startswith(name_start)]
    return contract


DOMAIN = layers()[-1]
ADAPTERS = layers()[-2]
PERSISTENCE = {name for name in ADAPTERS if name.startswith("betguard.models.")}


def source(module: str) -> Path:
    """Where ``module`` lives in the repository: a package's folder or a module's file
    (every mapped folder installs directly under ``betguard``)."""
    _, top, *rest = module.split(".")
    path = FOLDERS.get(f"betguard.{top}", ROOT / "betguard" / top).joinpath(*rest)
    return path if path.is_dir() else path.with_suffix(".py")


def named_modules() -> set[str]:
    names = {name for layer in layers() for name in layer}
    for contract in CONTRACTS:
        names.update(contract.get("source_modules", []))
        names.update(m for m in contract.get("forbidden_modules", []) if m.startswith("betguard."))
    return names


def test_every_module_a_contract_names_exists() -> None:
    missing = sorted(name for name in named_modules() if not source(name).exists())

    assert missing == []


def test_models_holds_the_domain_and_the_store_and_nothing_beside_them() -> None:
    on_disk = {f"betguard.models.{path.stem}" for path in FOLDERS["betguard.models"].iterdir()
               if path.name != "__init__.py" and "__pycache__" not in path.name
               and (path.suffix == ".py" or (path / "__init__.py").exists())}

    assert DOMAIN.isdisjoint(PERSISTENCE)
    assert on_disk == DOMAIN | PERSISTENCE == {"betguard.models.domain", "betguard.models.store"}


def test_the_domain_contract_forbids_every_layer_above_the_domain() -> None:
    contract = contract_named("The domain imports nothing")
    above = {name for layer in layers()[:-1] for name in layer}

    assert set(contract["source_modules"]) == DOMAIN
    assert above <= set(contract["forbidden_modules"])


def test_the_adapters_contract_names_the_adapters_of_the_layers() -> None:
    assert set(contract_named("Adapters")["source_modules"]) == ADAPTERS


def run_probe(code: str) -> Any:
    """What ``code`` prints (JSON), run in a fresh interpreter: the app's configuration,
    once read, stays for the process, so no test of this session may read it."""
    env = {**os.environ, "REDIS_URL": "redis://127.0.0.1:1/0"}  # read, never connected to
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, cwd=ROOT, env=env)
    return json.loads(done.stdout)


def test_the_workers_target_runs_the_composition_roots_app_with_every_task() -> None:
    shared, tasks = run_probe(
        "import json; from betguard.messaging.app import app; "
        "from betguard.tasks import app as target; "
        "app.loader.import_default_modules(); "  # what a worker does at start
        "print(json.dumps([target.app is app, sorted(app.tasks)]))")

    assert shared
    assert set(tasks) >= TASK_NAMES


def test_a_process_that_only_publishes_loads_no_task() -> None:
    loaded = run_probe(
        "import json, sys, betguard.api.server, betguard.ops.runtime, betguard.cli; "
        "print(json.dumps([m for m in sys.modules if m.startswith('betguard.tasks')]))")

    assert loaded == []


def test_the_unit_tests_load_no_integration_harness_and_no_server_code() -> None:
    # Every unit test module and the root conftest, imported as pytest would: the stack
    # fixture loads the harness only when a test asks for it.
    loaded = run_probe(
        "import importlib, json, pathlib, sys; "
        "importlib.import_module('tests.conftest'); "
        "[importlib.import_module('tests.unit.' + p.stem) "
        " for p in sorted(pathlib.Path('tests/unit').glob('test_*.py'))]; "
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith(("
        "'tests.integration', 'betguard_devkit.local_services', 'celery.worker')))))")

    assert loaded == []
