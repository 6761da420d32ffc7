"""The real ``betguard api`` process for tests: started with fresh API keys on a free
port, spoken to over HTTP, stopped afterwards. Shared by the API tests and the
bad-input corpus."""

from __future__ import annotations

import hashlib
import json
import secrets
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import select

from betguard.models.store.tables import Bet
from betguard_devkit import processes
from tests.integration.harness import Stack, bet_payload, wait_until

BIN = Path(sys.executable).parent


@dataclass
class Api:
    url: str
    game_key: str
    operator_key: str
    approver_key: str = ""

    def call(self, method: str, path: str, *, key: str = "", **kwargs: Any) -> requests.Response:
        headers = kwargs.pop("headers", {}) | ({"Authorization": f"Bearer {key}"} if key else {})
        return requests.request(method, self.url + path, headers=headers, timeout=30, **kwargs)

    def game(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.call(method, path, key=self.game_key, **kwargs)

    def ops(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.call(method, path, key=self.operator_key, **kwargs)

    def approver(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.call(method, path, key=self.approver_key, **kwargs)

    def place(self, stack: Stack, provider: str, *, fate: str = "never",
              stake: str = "10.00") -> dict[str, Any]:
        """Place a bet at the simulator, as the game server does, then register it here."""
        ref = new_ref()
        stack.sim("POST", "/_sim/bets", {"bet_ref": ref, "stake": stake, "currency": "EUR",
                                         "fate": fate})
        answer = self.game("POST", "/bets", json=bet_payload(provider, ref, stake))
        assert answer.status_code == 201, answer.text
        return dict(answer.json()["bet"])

    def wait_for_state(self, bet: dict[str, Any], state: str) -> dict[str, Any]:
        def reached() -> dict[str, Any] | None:
            story = self.game("GET", path_of(bet)).json()
            return story if story["bet"]["state"] == state else None

        return dict(wait_until(reached, 45, lambda: self.game("GET", path_of(bet)).text))


def new_ref() -> str:
    return f"api-{secrets.token_hex(6)}"


def hashed(name: str, role: str, key: str) -> dict[str, str]:
    return {"name": name, "role": role, "sha256": hashlib.sha256(key.encode()).hexdigest()}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_api(stack: Stack, *, log_name: str = "api.log",
                env: dict[str, str] | None = None) -> Iterator[Api]:
    """A ``betguard api`` process with a game-server, an operator (alice) and an approver
    (bob) key, until the block ends; ``env`` overrides the stack's environment (e.g. a
    Redis of its own)."""
    game_key, operator_key = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    approver_key = secrets.token_urlsafe(24)
    keys = [hashed("table-7", "game_server", game_key), hashed("alice", "operator", operator_key),
            hashed("bob", "approver", approver_key)]
    port = free_port()
    server = processes.ManagedProcess(
        "api", [str(BIN / "betguard"), "api", "--port", str(port)],
        env={**stack.env, **(env or {}), "BETGUARD_API_KEYS": json.dumps(keys)},
        log=stack.base / "logs" / log_name,
    ).start()

    api = Api(f"http://127.0.0.1:{port}", game_key, operator_key, approver_key)

    def healthy() -> bool:
        assert server.alive(), server.log.read_text()[-3000:]
        try:
            return api.call("GET", "/healthz").status_code == 200
        except requests.ConnectionError:
            return False

    try:
        wait_until(healthy, 30, lambda: server.log.read_text()[-3000:])
        yield api
    finally:
        server.stop()  # SIGTERM, then SIGKILL after a grace period


def settle_leftovers(api: Api, stack: Stack) -> None:
    """Settle the bets this module left pending, so later modules find only their own."""
    query = select(Bet.provider, Bet.bet_ref).where(Bet.state == "pending",
                                                    Bet.bet_ref.like("api%"))
    with stack.context.db.unit_of_work() as session:
        leftovers = [(p, r) for p, r in session.execute(query)]
    for provider, bet_ref in leftovers:
        api.game("POST", f"/bets/{provider}/{bet_ref}/result",
                 json={"payout": "0", "currency": "EUR"})


def path_of(bet: dict[str, Any], action: str = "") -> str:
    return f"/bets/{bet['provider']}/{bet['bet_ref']}" + (f"/{action}" if action else "")


def fields(answer: requests.Response) -> set[str]:
    return {p["field"] for p in answer.json()["problems"]}
