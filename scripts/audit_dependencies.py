"""Dependency audit: known vulnerabilities of every installed distribution.

pip-audit asks PyPI's per-version JSON API or OSV; from this project's machines only
PyPI's per-project JSON API answers. That answer lists the known vulnerabilities of
the project's latest release, so this audit checks each installed distribution that
is at its latest release, and names every one it could not check (an older release).
A finding fails the audit unless it is listed, with a reason, in ACCEPTED below.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata

PYPI = "https://pypi.org/pypi/{name}/json"
# vulnerability id -> why it does not affect betguard (none so far)
ACCEPTED: dict[str, str] = {}
# This repository's own distributions: not on PyPI, nothing to ask about.
OURS = frozenset({"betguard", "betguard-devkit"})


def installed() -> dict[str, str]:
    found = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name and name.lower() not in OURS:
            found[name.lower()] = dist.version
    return found


def latest_and_vulnerabilities(name: str) -> tuple[str, list[dict[str, object]]] | None:
    try:
        with urllib.request.urlopen(PYPI.format(name=name), timeout=20) as answer:  # noqa: S310
            data = json.load(answer)
    except (urllib.error.URLError, TimeoutError, ValueError):
        return None
    return str(data["info"]["version"]), list(data.get("vulnerabilities") or [])


def main() -> int:
    packages = installed()
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = dict(zip(packages, pool.map(latest_and_vulnerabilities, packages), strict=True))
    unreachable = [n for n, a in answers.items() if a is None]
    if len(unreachable) == len(packages):
        print("dependency audit: PyPI's JSON API cannot be reached from here; nothing checked")
        return 0
    findings, unchecked = [], []
    for name, answer in sorted(answers.items()):
        if answer is None:
            unchecked.append(f"{name} (no answer)")
            continue
        latest, vulnerabilities = answer
        if latest != packages[name]:
            unchecked.append(f"{name} {packages[name]} (latest is {latest})")
            continue
        findings += [(name, v) for v in vulnerabilities if str(v.get("id")) not in ACCEPTED]
    for name, vulnerability in findings:
        print(f"VULNERABLE {name} {packages[name]}: {vulnerability.get('id')} "
              f"{str(vulnerability.get('summary') or vulnerability.get('details'))[:120]}")
    checked = len(packages) - len(unchecked)
    print(f"dependency audit: {checked} distributions checked, {len(findings)} findings, "
          f"{len(unchecked)} not checkable: {', '.join(unchecked) or 'none'}")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
