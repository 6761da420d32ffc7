"""Redis with Sentinel on loopback: a master, a replica and three sentinels, each a real
redis-server process (the same binary as :class:`RedisServer`; a sentinel is
``redis-server <config> --sentinel``), for tests and drills of a failover.

The sentinels agree that the master is down after ``down_after`` seconds without an
answer (a quorum of two of the three) and promote the replica; a master that comes back
is turned into a replica of the new one. Redis' "High availability with Redis Sentinel"
page gives the directives used here (``sentinel monitor``, ``down-after-milliseconds``,
``failover-timeout``, ``auth-pass``, ``sentinel-pass``, ``requirepass``).
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Self

import redis
from redis.sentinel import Sentinel

from ._common import ServiceError, wait_until
from .redis import RedisServer, find_redis_server

QUORUM = 2


class RedisSentinel(RedisServer):
    """One sentinel process monitoring ``master_name`` at ``master`` (host, port)."""

    def __init__(self, *, base_dir: Path, master_name: str, master: tuple[str, int],
                 down_after: float, password: str | None = None,
                 sentinel_password: str | None = None) -> None:
        super().__init__(base_dir=base_dir)
        self.master_name = master_name
        self.master = master
        self.down_after = down_after
        self.server_password = password  # the monitored servers' requirepass
        self.password = sentinel_password  # this sentinel's own, for its clients

    @property
    def config_file(self) -> Path:
        return self.base_dir / "sentinel.conf"

    def _command(self) -> list[str]:
        # A sentinel rewrites its configuration file (what it learns of the group), so it
        # is written fresh at each start, before the process reads it.
        name, (host, port) = self.master_name, self.master
        lines = [f"port {self.port}", f"bind {self.host}", "daemonize no",
                 f'dir "{self.base_dir}"', f'logfile "{self.log_file}"',
                 f"sentinel monitor {name} {host} {port} {QUORUM}",
                 f"sentinel down-after-milliseconds {name} {round(self.down_after * 1000)}",
                 f"sentinel failover-timeout {name} {round(self.down_after * 4000)}",
                 f"sentinel parallel-syncs {name} 1"]
        if self.server_password is not None:
            lines.append(f"sentinel auth-pass {name} {self.server_password}")
        if self.password is not None:
            lines += [f"requirepass {self.password}", f"sentinel sentinel-pass {self.password}"]
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text("\n".join(lines) + "\n")
        return [find_redis_server(), str(self.config_file), "--sentinel"]


class SentinelGroup:
    """A master, one replica and three sentinels, all on loopback under ``base_dir``."""

    def __init__(self, *, base_dir: Path, master_name: str = "betguard",
                 down_after: float = 1.0, password: str | None = None,
                 sentinel_password: str | None = None) -> None:
        self.base_dir = Path(base_dir).absolute()
        self.master_name = master_name
        self.password = password
        self.sentinel_password = sentinel_password
        self.servers = [RedisServer(base_dir=self.base_dir / "redis-a", password=password)]
        self.servers.append(RedisServer(base_dir=self.base_dir / "redis-b", password=password,
                                        replica_of=self.servers[0].address))
        self.sentinels = [
            RedisSentinel(base_dir=self.base_dir / f"sentinel-{n}", master_name=master_name,
                          master=self.servers[0].address, down_after=down_after,
                          password=password, sentinel_password=sentinel_password)
            for n in range(3)]

    @property
    def sentinel_addresses(self) -> list[tuple[str, int]]:
        return [sentinel.address for sentinel in self.sentinels]

    def env(self) -> dict[str, str]:
        """The settings that make betguard reach this group's master through Sentinel."""
        env = {"BETGUARD_REDIS_SENTINELS": ",".join(f"{h}:{p}" for h, p in
                                                    self.sentinel_addresses),
               "BETGUARD_REDIS_MASTER_NAME": self.master_name}
        if self.password is not None:
            env["BETGUARD_REDIS_PASSWORD"] = self.password
        if self.sentinel_password is not None:
            env["BETGUARD_REDIS_SENTINEL_PASSWORD"] = self.sentinel_password
        return env

    def manager(self) -> Sentinel:
        """A redis-py Sentinel client of the group, with short timeouts."""
        kwargs: dict[str, object] = {"socket_timeout": 2, "socket_connect_timeout": 2}
        if self.sentinel_password is not None:
            kwargs["password"] = self.sentinel_password
        return Sentinel(self.sentinel_addresses, sentinel_kwargs=kwargs,
                        password=self.password, socket_timeout=2, socket_connect_timeout=2)

    def master_address(self) -> tuple[str, int] | None:
        """Where the sentinels say the master is (None: none of them answers)."""
        try:
            host, port = self.manager().discover_master(self.master_name)
        except redis.RedisError:
            return None
        return str(host), int(port)

    def master(self) -> RedisServer:
        """The server the sentinels name the master."""
        address = self.master_address()
        for server in self.servers:
            if server.address == address and server.running:
                return server
        raise ServiceError(f"the sentinels name {address} the master: no running server there")

    def start(self) -> Self:
        """Start the master, its replica (until it has synced) and the sentinels (until
        each knows the replica and the other sentinels): a failover can happen at once."""
        for server in self.servers:
            server.start()
        replica = self.servers[1]
        if not wait_until(replica.synced, 30):
            raise ServiceError(f"the replica never synced with the master ({replica.log_file})")
        for sentinel in self.sentinels:
            sentinel.start()
        if not wait_until(self._group_known, 30):
            raise ServiceError("the sentinels never saw the whole group "
                               f"({self.sentinels[0].log_file})")
        return self

    def stop(self) -> None:
        for process in [*self.sentinels, *self.servers]:
            process.stop()

    def kill_master(self) -> RedisServer:
        """SIGKILL the current master, as a crash would; returns it (restart it later to
        see it come back as a replica)."""
        master = self.master()
        master.kill()
        return master

    def wait_for_failover(self, old: tuple[str, int], timeout: float = 30.0,
                          ) -> tuple[str, int]:
        """Wait until the sentinels name a master other than ``old`` that takes writes."""
        found: list[tuple[str, int]] = []

        def promoted() -> bool:
            address = self.master_address()
            if address is None or address == old:
                return False
            server = next((s for s in self.servers if s.address == address), None)
            if server is None or not server.running:
                return False
            try:
                with server.client(socket_timeout=1) as conn:
                    role = conn.execute_command("ROLE")[0]
            except redis.RedisError:
                return False
            if role not in (b"master", "master"):
                return False
            found.append(address)
            return True

        if not wait_until(promoted, timeout):
            raise ServiceError(f"no failover from {old} within {timeout:.0f} s "
                               f"({self.sentinels[0].log_file})")
        return found[-1]

    def _group_known(self) -> bool:
        try:
            with self.sentinels[0].client(socket_timeout=1, decode_responses=True) as conn:
                facts = conn.sentinel_master(self.master_name)
        except redis.RedisError:
            return False
        return int(facts["num-slaves"]) >= 1 and int(facts["num-other-sentinels"]) >= 2

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
