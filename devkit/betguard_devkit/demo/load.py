"""The demo's game server: places bets at the provider (the simulator), registers
them with betguard, and reports the results that came back at once."""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from decimal import Decimal

import requests

from betguard.services.context import Context
from betguard.services.intake import place_bet
from betguard.services.results import report_result
from betguard_devkit.demo.scenarios import KINDS, PROVIDERS
from betguard_devkit.runrefs import RunRefs, round_fields

BATCH = 100


@dataclass(frozen=True)
class PlacedBet:
    provider: str
    bet_ref: str
    fate: str
    payout: str | None


def new_run_id() -> str:
    return f"demo-{secrets.token_hex(3)}"


def place_bets(ctx: Context, sim_urls: dict[str, str], refs: RunRefs, count: int,
               rng: random.Random) -> list[PlacedBet]:
    """Place ``count`` bets, each at its provider's simulator (``sim_urls``: one per
    provider kind), then with betguard."""
    placed: list[PlacedBet] = []
    for start in range(0, count, BATCH):
        wanted = [_new_bet(refs, n, rng) for n in range(start, min(count, start + BATCH))]
        for kind, url in sim_urls.items():
            mine = [bet for bet in wanted if KINDS[bet["provider"]] == kind]
            if not mine:
                continue
            answer = requests.post(f"{url}/_sim/bets", json={"bets": mine}, timeout=30)
            answer.raise_for_status()
            for bet, decided in zip(mine, answer.json()["bets"], strict=True):
                placed.append(_register(ctx, bet, decided, rng))
    return placed


def _new_bet(refs: RunRefs, number: int, rng: random.Random) -> dict[str, str]:
    stake = Decimal(rng.choice([5, 10, 20, 25, 50, 80, 150, 400])).quantize(Decimal("0.01"))
    provider = rng.choice(PROVIDERS)
    return {"bet_ref": refs.ref(KINDS[provider], provider, number), "stake": str(stake),
            "currency": "EUR", "provider": provider}


def _register(ctx: Context, bet: dict[str, str], decided: dict[str, object],
              rng: random.Random) -> PlacedBet:
    provider = bet["provider"]
    place_bet(ctx, {"provider": provider, "bet_ref": bet["bet_ref"],
                    "player_id": f"player-{rng.randrange(1000)}",
                    **round_fields(bet["bet_ref"], "roulette"), "stake": bet["stake"],
                    "currency": "EUR"})
    payout = decided.get("payout")
    if decided["fate"] == "returned" and isinstance(payout, str):
        report_result(ctx, provider, bet["bet_ref"], payout=payout, currency="EUR")
    return PlacedBet(provider, bet["bet_ref"], str(decided["fate"]),
                     payout if isinstance(payout, str) else None)
