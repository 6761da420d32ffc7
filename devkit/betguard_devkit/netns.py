"""Hosts of their own for a drill: Linux network namespaces on a bridge, made by the drill
and torn down at its end (``ip netns``, ``ip link``: iproute2).

One namespace, the core, holds the servers (PostgreSQL, Redis and its sentinels, the
simulators) and the drill itself; each host (a worker, beat, the API) is a namespace of
its own, linked to the core's bridge by a veth pair. Every address is inside these
namespaces (``10.213.0.0/24``: the core is ``.1``, the hosts ``.11`` on); nothing
outside them is touched, and the machine's own network never sees a packet. Cutting a
host off is taking its link down: its connections stall, as across a real partition,
and carry on when the link comes back.

The drill process enters the core with ``setns(2)`` (from its main thread, before it
starts any other) so that every server it starts runs there; a host's processes are
started through ``ip netns exec``.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import shutil
import subprocess
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

CORE_ADDRESS = "10.213.0.1"
_PREFIX_LENGTH = 24
_FIRST_HOST = 11
_CLONE_NEWNET = 0x40000000


# Where local servers listen (local_services._common.service_host): the core's address
# while a run's hosts exist.
HOST_VARIABLE = "BETGUARD_DEVKIT_HOST"


@contextlib.contextmanager
def hosts_or_loopback(prefix: str, names: Sequence[str],
                      say: Callable[[str], None]) -> Iterator[Hosts | None]:
    """A run's hosts, ``<prefix><random>-<name>``: made, entered (this process in the
    core, its servers listening there) and torn down at the end; None, with the reason
    said, where this machine cannot make namespaces (its processes then run on loopback)."""
    why_not = unavailable()
    if why_not is not None:
        say(f"worker hosts: loopback processes (no network namespaces: {why_not})")
        yield None
        return
    hosts = Hosts(f"{prefix}{secrets.token_hex(3)}", list(names)).create()
    say(f"worker hosts: network namespaces {hosts.prefix}-*, servers in {hosts.core} at "
        f"{CORE_ADDRESS}")
    hosts.enter_core()
    os.environ[HOST_VARIABLE] = CORE_ADDRESS
    try:
        yield hosts
    finally:
        os.environ.pop(HOST_VARIABLE, None)
        hosts.leave_core()
        hosts.destroy()


def unavailable() -> str | None:
    """Why namespaces cannot be made here (None: they can)."""
    if os.geteuid() != 0:
        return "not root: network namespaces need CAP_SYS_ADMIN"
    if shutil.which("ip") is None:
        return "no `ip` command (iproute2)"
    if not os.path.exists("/proc/self/ns/net"):
        return "no /proc/self/ns/net"
    return None


@dataclass
class Hosts:
    """The core namespace and one namespace per host name, named ``<prefix>-<name>``."""

    prefix: str
    names: list[str]
    addresses: dict[str, str] = field(default_factory=dict)
    _home: int | None = None  # this process's own namespace while it is in the core

    @property
    def core(self) -> str:
        return f"{self.prefix}-core"

    def namespace(self, host: str) -> str:
        return f"{self.prefix}-{host}"

    def _port(self, host: str) -> str:
        """The core's end of the host's link (a bridge port); at most 15 characters."""
        return f"v{self.prefix[-6:]}{self.names.index(host)}"

    def create(self) -> Hosts:
        self.destroy()  # what an interrupted run left behind
        _ip("netns", "add", self.core)
        self._in(self.core, "link", "set", "lo", "up")
        self._in(self.core, "link", "add", "br0", "type", "bridge")
        self._in(self.core, "addr", "add", f"{CORE_ADDRESS}/{_PREFIX_LENGTH}", "dev", "br0")
        self._in(self.core, "link", "set", "br0", "up")
        for number, host in enumerate(self.names):
            ns, port = self.namespace(host), self._port(host)
            address = f"10.213.0.{_FIRST_HOST + number}"
            _ip("netns", "add", ns)
            _ip("link", "add", port, "netns", self.core, "type", "veth",
                "peer", "name", "eth0", "netns", ns)
            self._in(self.core, "link", "set", port, "master", "br0", "up")
            self._in(ns, "addr", "add", f"{address}/{_PREFIX_LENGTH}", "dev", "eth0")
            self._in(ns, "link", "set", "eth0", "up")
            self._in(ns, "link", "set", "lo", "up")
            self.addresses[host] = address
        return self

    def enter_core(self) -> None:
        """Move this process (its calling thread, and all it starts after) into the core."""
        home = os.open("/proc/self/ns/net", os.O_RDONLY)
        core = os.open(f"/run/netns/{self.core}", os.O_RDONLY)
        try:
            _setns(core)
        finally:
            os.close(core)
        self._home = home

    def leave_core(self) -> None:
        if self._home is not None:
            _setns(self._home)
            os.close(self._home)
            self._home = None

    def argv(self, host: str, argv: list[str]) -> list[str]:
        """``argv`` run on ``host``."""
        return ["ip", "netns", "exec", self.namespace(host), *argv]

    def cut_off(self, host: str) -> None:
        """Take the host's link down: nothing reaches it, nothing leaves it."""
        self._in(self.core, "link", "set", self._port(host), "down")

    def reconnect(self, host: str) -> None:
        self._in(self.core, "link", "set", self._port(host), "up")

    def destroy(self) -> None:
        """Delete every namespace (their links go with them); never fails."""
        for ns in [*(self.namespace(h) for h in self.names), self.core]:
            with contextlib.suppress(subprocess.CalledProcessError):
                _ip("netns", "del", ns, quiet=True)

    def _in(self, ns: str, *args: str) -> None:
        _ip("-n", ns, *args)


def _ip(*args: str, quiet: bool = False) -> None:
    subprocess.run(["ip", *args], check=True, timeout=30,  # noqa: S603, S607 - iproute2
                   capture_output=quiet, stdin=subprocess.DEVNULL)


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, _CLONE_NEWNET) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"setns: {os.strerror(error)}")
