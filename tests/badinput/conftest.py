"""Fixtures of the bad-input corpus, and the line that counts it at the end of a run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.badinput import bet_cases, console_cases, receiver_cases, response_cases
from tests.badinput.private_sim import PrivateSim, private_simulator
from tests.badinput.raw_cases import RAW_BODIES
from tests.integration.api_server import Api, running_api
from tests.integration.harness import Stack


@pytest.fixture(scope="package")
def api(stack: Stack) -> Iterator[Api]:
    with running_api(stack, log_name="api-badinput.log") as running:
        yield running


@pytest.fixture(scope="module")
def sim(request: pytest.FixtureRequest,
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateSim]:
    """A simulator of the module's own, which no other test's bets or faults reach."""
    name = request.module.__name__.rsplit(".", 1)[-1]
    with private_simulator(tmp_path_factory.mktemp(name)) as running:
        yield running


def corpus_counts() -> str:
    bets, raw = len(bet_cases.CASES), len(RAW_BODIES) + len(bet_cases.NOT_AN_OBJECT)
    providers, wallets = len(response_cases.PROVIDER_CASES), len(response_cases.WALLET_CASES)
    both_ways = len(response_cases.PROVIDER_END_TO_END) + len(response_cases.WALLET_END_TO_END)
    return (f"bad-input corpus: {bets} malformed bets × 3 intakes (and {raw} bodies that are "
            f"no bet), {providers + wallets} hostile provider/wallet responses ({providers} "
            f"provider, {wallets} wallet; {both_ways} also end to end), "
            f"{len(receiver_cases.CASES)} hostile receivers, "
            f"{len(console_cases.CASES)} hostile texts shown by the console")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    terminalreporter.write_line(corpus_counts())
