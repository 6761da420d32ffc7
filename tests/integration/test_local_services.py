"""Real PostgreSQL and Redis servers start, answer, survive restarts and stop cleanly."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import sqlalchemy
from kombu.connection import Connection
from sqlalchemy import text

from betguard_devkit.local_services import PostgresServer, RedisServer, ServiceError, free_port

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pg_base() -> Iterator[Path]:
    """A base the postgres user can traverse (pytest's own tmp dirs are mode 700)."""
    base = Path(tempfile.mkdtemp(prefix="betguard-pg-"))
    base.chmod(0o755)
    yield base
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def pg(pg_base: Path) -> Iterator[PostgresServer]:
    with PostgresServer(base_dir=pg_base / "cluster") as server:
        yield server


def _scalar(url: str, query: str) -> object:
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.begin() as conn:
            return conn.execute(text(query)).scalar()
    finally:
        engine.dispose()


def _execute(url: str, statement: str) -> None:
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(statement))
    finally:
        engine.dispose()


def test_free_port_is_bindable() -> None:
    port = free_port()
    assert 1024 < port < 65536


def test_postgres_answers_through_sqlalchemy(pg: PostgresServer) -> None:
    assert pg.url == f"postgresql+psycopg://postgres@127.0.0.1:{pg.port}/betguard"
    assert _scalar(pg.url, "SELECT 1") == 1
    assert _scalar(pg.url, "SHOW max_connections") == "400"
    assert _scalar(pg.url, "SHOW listen_addresses") == "127.0.0.1"


def test_postgres_restart_keeps_data(pg: PostgresServer) -> None:
    _execute(pg.url, "CREATE TABLE kept (x int); INSERT INTO kept VALUES (41)")
    pg.restart()
    assert _scalar(pg.url, "SELECT x + 1 FROM kept") == 42


def test_postgres_kill_keeps_committed_rows(pg: PostgresServer) -> None:
    _execute(pg.url, "CREATE TABLE crashed (x int); INSERT INTO crashed VALUES (7)")
    pg.kill()
    assert not pg.running
    pg.start()
    assert _scalar(pg.url, "SELECT x FROM crashed") == 7


def test_postgres_create_database(pg: PostgresServer) -> None:
    url = pg.create_database("betguard_extra")
    assert url.endswith(f":{pg.port}/betguard_extra")
    assert pg.create_database("betguard_extra") == url  # idempotent
    assert _scalar(url, "SELECT current_database()") == "betguard_extra"


def test_postgres_under_private_pytest_tmp_dir(tmp_path_factory: pytest.TempPathFactory) -> None:
    """A mode-700 base (pytest's tmp dirs) still works: the server adds search bits."""
    with PostgresServer(base_dir=tmp_path_factory.mktemp("pg") / "cluster") as server:
        assert _scalar(server.url, "SELECT 1") == 1
    server.stop()
    server.stop()  # idempotent
    assert not server.running
    with pytest.raises(sqlalchemy.exc.OperationalError):
        _scalar(server.url, "SELECT 1")


def test_redis_ping_and_restart_wipe(tmp_path: Path) -> None:
    with RedisServer(base_dir=tmp_path / "redis", appendonly=True) as server:
        assert server.url == f"redis://127.0.0.1:{server.port}/0"
        client = redis.Redis.from_url(server.redis_py_url)
        assert client.ping()
        client.set("bet:1", "open")
        server.restart(wipe=True)
        assert client.get("bet:1") is None
        client.close()
    server.stop()  # idempotent
    assert not server.running


def test_redis_appendonly_restart_keeps_keys(tmp_path: Path) -> None:
    with RedisServer(base_dir=tmp_path / "redis", appendonly=True) as server:
        with server.client() as client:
            client.set("bet:2", "open")
        server.restart()
        with server.client() as client:
            assert client.get("bet:2") == b"open"
        server.flushall()
        with server.client() as client:
            assert client.dbsize() == 0


def test_redis_kill_and_start(tmp_path: Path) -> None:
    with RedisServer(base_dir=tmp_path / "redis") as server:
        server.kill()
        assert not server.running
        with pytest.raises(redis.ConnectionError), server.client() as client:
            client.ping()
        server.start()
        with server.client() as client:
            assert client.ping()


def test_redis_unix_socket_for_redis_py_and_kombu(tmp_path: Path) -> None:
    sock = tmp_path / "redis.sock"
    with RedisServer(base_dir=tmp_path / "redis", unix_socket=sock) as server:
        assert server.url == f"redis+socket://{sock}?virtual_host=0"
        assert server.redis_py_url == f"unix://{sock}?db=0"
        client = redis.Redis.from_url(server.redis_py_url)
        assert client.ping()
        client.set("via", "redis-py")
        client.close()
        with Connection(server.url) as conn:  # type: ignore[no-untyped-call]
            kombu_client = conn.default_channel.client
            assert kombu_client.get("via") == b"redis-py"


@pytest.fixture()
def taken_port() -> Iterator[int]:
    """A port some other process is listening on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_postgres_fixed_port_in_use_fails_with_log_tail(pg_base: Path, taken_port: int) -> None:
    server = PostgresServer(base_dir=pg_base / "busy", port=taken_port)
    with pytest.raises(ServiceError, match="could not bind"):
        server.start()
    assert not server.running
    server.stop()


def test_redis_fixed_port_in_use_fails_with_log_tail(tmp_path: Path, taken_port: int) -> None:
    server = RedisServer(base_dir=tmp_path / "redis", port=taken_port)
    with pytest.raises(ServiceError, match="(?i)address already in use"):
        server.start()
    assert not server.running


def test_servers_stop_at_interpreter_exit_but_not_in_forked_children(tmp_path: Path) -> None:
    script = f"""
import os, sys
from pathlib import Path
from betguard_devkit.local_services import RedisServer
server = RedisServer(base_dir=Path({str(tmp_path)!r}) / "redis").start()
child = os.fork()
if child == 0:
    sys.exit(0)  # runs atexit hooks in the child
os.waitpid(child, 0)
assert server.running, "a forked child's exit stopped the parent's server"
print(server.pid)
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    pid = int(out.stdout.strip())
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        state = "gone"
    assert state in ("gone", "Z"), "redis-server outlived the process that started it"
