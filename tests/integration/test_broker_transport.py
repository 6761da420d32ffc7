"""The broker's channel when Redis goes away under a worker holding unacknowledged
messages: the consumer closes its connection, whose channel then tries to hand the
messages back with no connection left to ask. That must end as a connection error
(which kombu ignores there: the worker reconnects), never as an error that stops the
worker for good."""

from __future__ import annotations

from pathlib import Path

import pytest
from kombu import Connection

from betguard.messaging.transport import Transport
from betguard_devkit.local_services import RedisServer

pytestmark = pytest.mark.integration


def test_a_channel_closed_after_its_connection_with_messages_unacknowledged_closes_quietly(
    tmp_path: Path,
) -> None:
    server = RedisServer(base_dir=tmp_path / "redis").start()
    connection = Connection(server.url, transport=Transport)
    try:
        channel = connection.channel()
        queue = connection.SimpleQueue("transport-test", channel=channel)
        queue.put({"n": 1})
        held = queue.get(timeout=5)  # delivered, not acknowledged
        assert held.payload == {"n": 1}
        connection.transport.client = None  # as kombu leaves a connection it has closed

        connection.maybe_close_channel(channel)  # kombu's own channel raises AttributeError

        assert channel.closed
    finally:
        server.stop()
