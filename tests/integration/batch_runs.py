"""Running batched and grouped checks by hand: bets placed at the simulator and with
betguard, a context whose scheduler only records the wake-ups, and how often the
provider was asked about each bet."""

from __future__ import annotations

import dataclasses
import secrets
from datetime import datetime

from betguard.models.domain.snapshot import BetSnapshot
from betguard.services.context import Context
from betguard.services.intake import place_bets
from tests.integration.harness import Stack, bet_payload


class Wakeups:
    """A scheduler that only records what a batched check wakes up."""

    def __init__(self) -> None:
        self.batches: list[tuple[str, list[tuple[int, int]], datetime]] = []
        self.checks: list[int] = []
        self.refunds: list[int] = []

    def check(self, bet_id: int, attempt: int, at: datetime, *, label: str) -> None:
        self.checks.append(bet_id)

    def check_batch(self, provider: str, checks: list[tuple[int, int]], at: datetime) -> None:
        self.batches.append((provider, checks, at))

    def refund(self, bet_id: int, at: datetime, *, label: str,
               attempt: int | None = None) -> None:
        self.refunds.append(bet_id)

    def notify(self, notification_id: int, at: datetime) -> None:
        pass

    def backlog(self) -> int:
        return 0


def place(stack: Stack, fates: list[str], provider: str = "sleepy_batcher") -> list[BetSnapshot]:
    run = secrets.token_hex(4)
    wanted = [f"batch-{run}-{n}" for n in range(len(fates))]
    for ref, fate in zip(wanted, fates, strict=True):
        stack.sim("POST", "/_sim/bets", {"bet_ref": ref, "stake": "10.00", "currency": "EUR",
                                         "fate": fate})
    results = place_bets(stack.context, [bet_payload(provider, ref) for ref in wanted])
    return [r.bet for r in results if r.bet is not None]


def asked(stack: Stack, bets: list[BetSnapshot]) -> list[tuple[int, int]]:
    """How often the provider was asked about each bet, and how often of those in a batched
    request: the bet's own figures, which no other test's bets in the background move."""
    truth = stack.truth()["bets"]
    return [(truth[b.bet_ref]["queries"], truth[b.bet_ref]["batched_queries"]) for b in bets]


def recorded(stack: Stack) -> tuple[Context, Wakeups]:
    wakeups = Wakeups()
    return dataclasses.replace(stack.context, scheduler=wakeups), wakeups
