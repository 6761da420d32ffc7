"""A schema fuzzer (Schemathesis) against the real API, with each of its two keys: every
check on every operation, a bounded number of examples. The document must tell the
truth: no server error, and no request the schema allows refused (or one it forbids
taken), no status, header or body the schema does not state."""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from betguard.models.store.migrate import upgrade
from tests.integration.api_server import BIN, Api, running_api
from tests.integration.harness import Stack

pytestmark = pytest.mark.integration

EXAMPLES = 15  # per operation and phase: some 550 requests a key, 10 to 20 s


@pytest.fixture(scope="module")
def fuzzed_api(stack: Stack) -> Iterator[Api]:
    """An API on a database of its own and a Redis database no worker reads: the bets the
    fuzzer registers are never checked, and no other test sees them."""
    database = stack.postgres.create_database("schema_fuzzing")
    upgrade(database)
    redis = stack.redis.url
    redis = (redis.replace("virtual_host=0", "virtual_host=11") if "virtual_host=" in redis
             else redis.rsplit("/", 1)[0] + "/11")
    with running_api(stack, log_name="api-fuzzed.log",
                     env={"DATABASE_URL": database, "REDIS_URL": redis}) as api:
        yield api


@pytest.mark.parametrize("role", ["game_server", "operator"])
def test_a_schema_fuzzer_finds_no_server_error_and_no_mismatch_with_either_key(
    stack: Stack, fuzzed_api: Api, role: str, tmp_path: Path,
) -> None:
    log = stack.base / "logs" / "api-fuzzed.log"
    before = served(log)
    key = fuzzed_api.game_key if role == "game_server" else fuzzed_api.operator_key
    argv = [str(BIN / "st"), "run", fuzzed_api.url + "/openapi.json", "--checks", "all",
            "--max-examples", str(EXAMPLES), "--request-timeout", "10",
            "--header", f"Authorization: Bearer {key}",
            "--report", "junit", "--report-dir", str(tmp_path)]

    run = subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=tmp_path,
                         check=False)

    assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:]
    sent = served(log) - before
    print(f"{role}: {sent} requests")  # shown with -s, for the record
    assert sent > 10 * EXAMPLES, f"the fuzzer sent {sent} requests only"
    assert "Selected: 11/11" in run.stdout and "Tested: 11" in run.stdout, run.stdout[-3000:]
    suites = [ET.parse(report).getroot() for report in tmp_path.glob("junit-*.xml")]
    counts = [(int(s.get("failures", 0)), int(s.get("errors", 0)))
              for root in suites for s in root.iter("testsuite")]
    assert counts and all(count == (0, 0) for count in counts), run.stdout[-8000:]


def served(log: Path) -> int:
    """How many requests the API has answered, from its access log."""
    return sum(1 for line in log.read_text(errors="replace").splitlines()
               if ' HTTP/1.1" ' in line)
