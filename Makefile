# betguard developer entry points. Tests and the demo start their own PostgreSQL and
# Redis on loopback (see devkit/betguard_devkit/local_services); no Docker needed.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PACKAGES := betguard config models providers services tasks devkit

.PHONY: venv test demo drill bench bench-quick bench-scale lint security clean

venv: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The product and the developer tooling (devkit/: simulator, local services, demo, drills),
# both editable; re-installed only when either pyproject.toml changed since the last install.
$(STAMP): pyproject.toml devkit/pyproject.toml | $(BIN)/python
	$(BIN)/pip install -e '.[test]' -e ./devkit
	touch $@

test: venv lint security
	$(BIN)/python -m betguard_devkit.local_services --ensure
	$(BIN)/pytest -q

demo: venv
	$(BIN)/betguard demo

drill: venv
	$(BIN)/python -m betguard_devkit.local_services --ensure
	$(BIN)/pytest -q -m drill tests/drills
	$(BIN)/betguard drill all --bets 20000
	$(BIN)/betguard drill failover --bets 5000 --duration 120

# Benchmarks on real PostgreSQL, Redis and workers (bench/README.md): every figure a
# ratio measured side by side in one run; the table is printed and written to
# bench/results/latest.json. bench-quick takes about a minute, bench about 35 minutes.
bench-quick: venv
	$(BIN)/python -m betguard_devkit.local_services --ensure
	$(BIN)/python -m bench --quick

bench: venv
	$(BIN)/python -m betguard_devkit.local_services --ensure
	$(BIN)/python -m bench

# The scale run (bench/scale/run.py): worker hosts and processes, HTTP intake under the
# load generator, rising load, the standby's cost, on the high-availability stack; about
# 15 minutes. Written to bench/results/scale-full.json and .md.
bench-scale: venv
	$(BIN)/python -m betguard_devkit.local_services --ensure
	$(BIN)/python -m bench.scale

# mypy reads the installed layout (betguard.models, ..., betguard_devkit) from a tree of
# links: see scripts/lint_tree.py. So does import-linter, which holds the layers to the
# contracts in pyproject.toml ([tool.importlinter]).
lint: venv
	$(BIN)/ruff check $(PACKAGES) bench tests scripts
	$(BIN)/python scripts/lint_tree.py
	cd build/lint && ../../$(BIN)/mypy -p betguard -p betguard_devkit -p bench
	cd build/lint && ../../$(BIN)/lint-imports

# Static security scan (every skipped finding class is explained in pyproject.toml)
# and the dependency audit (why not pip-audit: see the script's docstring).
security: venv
	$(BIN)/bandit -q -c pyproject.toml -r $(PACKAGES)
	$(BIN)/python scripts/audit_dependencies.py

clean:
	rm -rf build dist *.egg-info devkit/*.egg-info .pytest_cache .mypy_cache .ruff_cache
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -exec rm -rf {} +
