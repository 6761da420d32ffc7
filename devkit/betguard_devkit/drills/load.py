"""The drill's game server: places bets at a steady pace and keeps trying, as a
game server must, when betguard's database or broker is briefly away."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from functools import partial
from typing import TypeVar

import requests

from betguard.services.context import Context
from betguard.services.intake import place_bets
from betguard.services.results import report_result
from betguard_devkit.drills.scenarios import KINDS, PROVIDERS
from betguard_devkit.runrefs import RunRefs, round_fields

log = logging.getLogger(__name__)
T = TypeVar("T")
GIVE_UP_SECONDS = 120.0
SIM_BATCH = 500
OK = ("created", "exists")  # a batch retried after a lost commit finds its bets


def persist(action: Callable[[], T]) -> T:
    """Retry ``action`` until it succeeds: intake and results are idempotent."""
    deadline = time.monotonic() + GIVE_UP_SECONDS
    while True:
        try:
            return action()
        except Exception as exc:  # the database or broker is away: try again
            if time.monotonic() > deadline:
                raise
            log.info("retrying after %s", type(exc).__name__)
            time.sleep(0.5)


class Placer:
    def __init__(self, ctx: Context, sim_urls: dict[str, str], refs: RunRefs,
                 rng: random.Random) -> None:
        """``sim_urls``: the simulator of each provider kind (adapter)."""
        self.ctx, self.sim_urls, self.refs, self.rng = ctx, sim_urls, refs, rng
        self.placed: list[str] = []

    def place(self, count: int) -> None:
        """Place ``count`` more bets (at most ``SIM_BATCH``): registered at their
        provider's simulator (its request bodies are capped at 1 MB), then at betguard in
        one batch, then the results the providers returned at once are reported."""
        start = len(self.placed)
        wanted = [self._new(n) for n in range(start, start + min(count, SIM_BATCH))]
        if not wanted:
            return
        decided = self._register(wanted)
        payloads = [self._payload(bet) for bet in wanted]
        refused = [r for r in persist(lambda: place_bets(self.ctx, payloads))
                   if r.status not in OK]
        if refused:  # not retried: the same bets would be refused again
            raise RuntimeError(f"the drill's own bets were refused: {refused[:3]}")
        for bet, decision in zip(wanted, decided, strict=True):
            self._report(bet, decision)
            self.placed.append(bet["bet_ref"])

    def _register(self, wanted: list[dict[str, str]]) -> list[dict[str, object]]:
        """Register each bet at its provider's simulator; the decisions in ``wanted``'s order."""
        decided: dict[str, dict[str, object]] = {}
        for kind, url in self.sim_urls.items():
            mine = [bet for bet in wanted if KINDS[bet["provider"]] == kind]
            if mine:
                answers = persist(partial(self._register_at_simulator, url, mine))
                decided.update(zip((bet["bet_ref"] for bet in mine), answers, strict=True))
        return [decided[bet["bet_ref"]] for bet in wanted]

    @staticmethod
    def _register_at_simulator(url: str, wanted: list[dict[str, str]]) -> list[dict[str, object]]:
        answer = requests.post(f"{url}/_sim/bets", json={"bets": wanted}, timeout=30)
        answer.raise_for_status()
        return list(answer.json()["bets"])

    def _new(self, number: int) -> dict[str, str]:
        stake = self.rng.choice(["5.00", "20.00", "50.00", "99.00", "250.00"])
        provider = self.rng.choice(PROVIDERS)
        # A generic reference names its provider, so the simulator's log reads per provider.
        return {"bet_ref": self.refs.ref(KINDS[provider], provider, number), "stake": stake,
                "currency": "EUR", "provider": provider}

    @staticmethod
    def _payload(bet: dict[str, str]) -> dict[str, str]:
        return {"provider": bet["provider"], "bet_ref": bet["bet_ref"], "player_id": "p-1",
                **round_fields(bet["bet_ref"], "blackjack"),
                "stake": bet["stake"], "currency": "EUR"}

    def _report(self, bet: dict[str, str], decision: dict[str, object]) -> None:
        payout = decision.get("payout")
        if decision.get("fate") == "returned" and isinstance(payout, str):
            persist(lambda: report_result(self.ctx, bet["provider"], bet["bet_ref"],
                                          payout=payout, currency="EUR"))
