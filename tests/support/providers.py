"""Recording what an adapter reports, and reading the wire fixtures of the dialects."""

from __future__ import annotations

from pathlib import Path

from betguard.providers.problems import Problem

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def wire_fixture(dialect: str, name: str) -> bytes:
    """The bytes of ``tests/fixtures/<dialect>/<name>``: an answer shaped as the real
    provider sends it (each dialect's docs page says where its shape comes from)."""
    return (FIXTURES / dialect / name).read_bytes()


class ProblemHook:
    """An adapter's problem hook that records what it was told, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Problem]] = []

    def __call__(self, provider: str, problem: Problem) -> None:
        self.calls.append((provider, problem))
