"""Fixtures the unit tests share (no service, no harness: see tests/conftest.py)."""

from __future__ import annotations

import os

import pytest


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever the shell running the tests exports must not leak into the settings."""
    for name in list(os.environ):
        if name.startswith("BETGUARD_") or name in {"DATABASE_URL", "REDIS_URL"}:
            monkeypatch.delenv(name)
