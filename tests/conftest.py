"""Shared fixtures: the running betguard (tests/integration/harness.py), started on demand:
only a test that asks for ``stack`` loads the harness and starts the services."""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.integration.harness import Stack


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    # Imported here, not at the top: a run of the unit tests loads no harness, no
    # PostgreSQL or Redis server code and no simulator (pytest tests/unit needs none).
    from betguard.config.settings import get_settings, reset_settings
    from betguard.models.store.migrate import upgrade
    from betguard_devkit.local_services import PostgresServer, RedisServer
    from tests.integration.harness import (
        PGSOFT_SALT_ENV,
        Stack,
        build_in_process_context,
        configure,
        start_dialect_simulator,
        start_drip_proxy,
        start_hanging_simulator,
        start_simulator,
    )
    from tests.integration.receiver import Receiver

    base = Path(tempfile.mkdtemp(prefix="betguard-test-"))
    base.chmod(0o755)  # PostgreSQL runs as its own user and must reach its folder
    provider_secret, wallet_secret = secrets.token_hex(16), secrets.token_hex(16)
    with PostgresServer(base_dir=base / "pg") as pg, RedisServer(base_dir=base / "redis") as rd:
        stack = Stack(base=base, postgres=pg, redis=rd, env=dict(os.environ))
        stack.receiver = Receiver(secrets.token_hex(16)).start()
        start_simulator(stack, provider_secret, wallet_secret)
        start_hanging_simulator(stack, provider_secret, wallet_secret)
        start_drip_proxy(stack)
        salt = secrets.token_hex(16)
        stack.env[PGSOFT_SALT_ENV] = salt  # the workers' and this process' (os.environ)
        stack.pgsoft_sim_url = start_dialect_simulator(
            stack, "pgsoft", provider_secret, wallet_secret,
            only_its_own={"SIMULATOR_PGSOFT_HASH_SALT": salt})
        stack.pragmatic_sim_url = start_dialect_simulator(stack, "pragmatic", provider_secret,
                                                          wallet_secret)
        stack.env.update(configure(stack, provider_secret, wallet_secret,
                                   stack.receiver.url, stack.receiver.secret))
        os.environ.update(stack.env)
        reset_settings()
        upgrade(pg.url)
        stack.ctx = build_in_process_context(get_settings())
        stack.start_workers()
        stack.start_beat()
        try:
            yield stack
        finally:
            for process in [*stack.workers, stack.beat]:
                if process is not None:
                    process.stop()
            stack.context.db.dispose()
            stack.receiver.stop()
            if stack.drip is not None:
                stack.drip.stop()
