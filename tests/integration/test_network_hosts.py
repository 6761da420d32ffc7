"""The drills' hosts (``betguard_devkit.netns``): network namespaces on a bridge, made
and torn down by the test itself. A process on a host reaches a server in the core
namespace at the core's address; cut off, it reaches nothing; reconnected, it does
again; and nothing is left behind. Only addresses inside these namespaces are used."""

from __future__ import annotations

import secrets
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from betguard_devkit import netns
from betguard_devkit.netns import CORE_ADDRESS, Hosts

pytestmark = pytest.mark.integration

SERVER = """
import socket, sys
with socket.create_server((sys.argv[1], 0)) as server:
    print(server.getsockname()[1], flush=True)
    while True:
        conn, _ = server.accept()
        with conn:
            conn.sendall(b"hello from the core")
"""
CLIENT = """
import socket, sys
try:
    with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1.5) as conn:
        print(conn.recv(100).decode())
except OSError as exc:
    print(f"unreachable: {type(exc).__name__}")
"""


@pytest.fixture
def hosts() -> Iterator[Hosts]:
    why_not = netns.unavailable()
    if why_not is not None:  # the drill then runs its hosts as loopback processes
        pytest.skip(f"network namespaces cannot be made here: {why_not}")
    made = Hosts(f"bgt{secrets.token_hex(3)}", ["w1", "w2"]).create()
    try:
        yield made
    finally:
        made.destroy()


def _on(hosts: Hosts, host: str, code: str, *args: str) -> str:
    done = subprocess.run(hosts.argv(host, [sys.executable, "-c", code, *args]),
                          capture_output=True, text=True, timeout=20, check=True)
    return done.stdout.strip()


def test_a_host_reaches_the_core_until_it_is_cut_off_and_again_after(hosts: Hosts) -> None:
    server = subprocess.Popen(["ip", "netns", "exec", hosts.core, sys.executable, "-c", SERVER,
                               CORE_ADDRESS], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        port = server.stdout.readline().strip()
        before = _on(hosts, "w1", CLIENT, CORE_ADDRESS, port)
        hosts.cut_off("w1")
        cut = _on(hosts, "w1", CLIENT, CORE_ADDRESS, port)
        other = _on(hosts, "w2", CLIENT, CORE_ADDRESS, port)
        hosts.reconnect("w1")
        after = _on(hosts, "w1", CLIENT, CORE_ADDRESS, port)
    finally:
        server.kill()
        server.wait(5)

    assert before == "hello from the core"
    assert cut.startswith("unreachable")
    assert other == "hello from the core"  # only w1 was cut off
    assert after == "hello from the core"
    assert hosts.addresses == {"w1": "10.213.0.11", "w2": "10.213.0.12"}


def test_the_hosts_are_gone_after_destroy(hosts: Hosts) -> None:
    hosts.destroy()
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                            check=True).stdout

    assert hosts.prefix not in listed


def test_a_host_does_not_reach_the_machines_loopback(hosts: Hosts) -> None:
    """A host's 127.0.0.1 is its own: a server on the machine's loopback is not there."""
    with socket.create_server(("127.0.0.1", 0)) as here:
        port = str(here.getsockname()[1])
        from_the_host = _on(hosts, "w1", CLIENT, "127.0.0.1", port)
        with socket.create_connection(("127.0.0.1", int(port)), timeout=2):
            pass  # while here it answers

    assert from_the_host.startswith("unreachable")
