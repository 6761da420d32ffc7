"""Fixtures the integration tests share (the stack itself is the root conftest's)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.api_server import Api, running_api
from tests.integration.harness import Stack


@pytest.fixture(scope="module")
def api(request: pytest.FixtureRequest, stack: Stack) -> Iterator[Api]:
    """``betguard api`` serving the stack for the module, its log named after the module."""
    name = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    with running_api(stack, log_name=f"api-{name}.log") as running:
        yield running
