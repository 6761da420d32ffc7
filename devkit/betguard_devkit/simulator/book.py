"""The provider's book: its bets, their fates, registration lag and tombstones.

A provider registers bets late (eventual consistency): for ``lag`` seconds after a
bet is placed its API answers 404, then the bet behaves per its fate. A cancel of a
reference the provider does not know (yet) leaves a tombstone: the answer is
"cancelled", and a later registration of that reference is refused, so the bet
stays cancelled and never settles. That is what lets betguard refund a bet the
provider "never saw" without paying twice. A bet (or, with the ``tombstones`` knob
off, the whole provider) may be unable to fence: such a cancel answers 404.

Not locked: :class:`betguard_devkit.simulator.state.SimState` holds its lock around every
call, and passes the time and the knobs in.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from betguard_devkit.simulator.inputs import BetSpec, Fate
from betguard_devkit.simulator.knobs import Knobs
from betguard_devkit.simulator.records import SimBet, cancelled_object, iso

MULTIPLIERS = (Decimal("1.5"), Decimal("2"), Decimal("3"))
CENT = Decimal("0.01")
UNKNOWN_BET: dict[str, Any] = {"error": "unknown bet"}

Reply = tuple[int, dict[str, Any]]


class BetBook:
    """What the provider knows; every random choice comes from the shared ``rng``."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.bets: dict[str, SimBet] = {}
        self.tombstones: dict[str, float] = {}  # refs cancelled before any registration

    def register(self, spec: BetSpec, now: float, knobs: Knobs) -> tuple[bool, dict[str, Any]]:
        """Decide a new bet's fate (a known ref keeps its first decision). A ref with a
        tombstone is refused: recorded as cancelled, fenced, and never settled."""
        known = self.bets.get(spec.bet_ref)
        if known is not None:
            return False, known.decision()
        bet = self.bets[spec.bet_ref] = self._decide(spec, now, knobs)
        if self.tombstones.pop(spec.bet_ref, None) is not None:
            bet.cancelled = bet.fenced = True
        return True, bet.decision()

    def _decide(self, spec: BetSpec, now: float, knobs: Knobs) -> SimBet:
        fate = spec.fate or self._draw_fate(knobs)
        payout, result_at = None, None
        if fate in (Fate.RETURNED, Fate.DELAYED):
            payout = spec.payout if spec.payout is not None else self._draw_payout(spec.stake)
            delay = 0.0
            if fate is Fate.DELAYED:
                delay = spec.delay if spec.delay is not None else self._draw(knobs.delay_range)
            result_at = now + delay
        lag = spec.lag if spec.lag is not None else self._draw(knobs.registration_lag_range)
        fenceable = spec.fenceable if spec.fenceable is not None else knobs.tombstones
        return SimBet(spec.bet_ref, fate, spec.stake, spec.currency, payout, result_at,
                      known_from=now + lag, lag=lag, fenceable=fenceable,
                      payout_sent=spec.payout_sent)

    def _draw_fate(self, knobs: Knobs) -> Fate:
        weights = [knobs.share_returned, knobs.share_delayed, knobs.share_never,
                   knobs.share_unknown]
        return self.rng.choices(list(Fate), weights=weights)[0]

    def _draw(self, interval: tuple[float, float]) -> float:
        low, high = interval
        if high <= 0:
            return 0.0  # draws nothing: runs without lag repeat as they did before it
        return self.rng.uniform(low, high)

    def _draw_payout(self, stake: Decimal) -> Decimal:
        if self.rng.random() < 0.5:
            return Decimal("0.00")
        return (stake * self.rng.choice(MULTIPLIERS)).quantize(CENT, rounding=ROUND_HALF_UP)

    def status(self, ref: str, now: float) -> Reply:
        """``GET /bets/<ref>``: the status object, or 404 while the provider does not
        know the bet (never, or not yet); a tombstone answers "cancelled"."""
        answer = self._answer(ref, now)
        return (404, dict(UNKNOWN_BET)) if answer is None else (200, answer)

    def statuses(self, refs: Iterable[str], now: float) -> Reply:
        """``POST /bets/status``: the known bets' statuses and the refs not known."""
        known, unknown = [], []
        for ref in refs:
            answer = self._answer(ref, now)
            if answer is None:
                unknown.append(ref)
            else:
                known.append(answer)
        return 200, {"bets": known, "unknown": unknown}

    def _answer(self, ref: str, now: float) -> dict[str, Any] | None:
        bet = self.bets.get(ref)
        if bet is None:
            return cancelled_object(ref) if ref in self.tombstones else None
        return None if bet.status_at(now) == "unknown" else bet.status_object(now)

    def cancel(self, ref: str, now: float, knobs: Knobs) -> Reply:
        """Cancel a pending bet for good; a bet with a result answers 409 with it. A bet
        the provider does not know (yet) is fenced by a tombstone, if it can be."""
        bet = self.bets.get(ref)
        if bet is None:
            if not knobs.tombstones and ref not in self.tombstones:
                return 404, dict(UNKNOWN_BET)
            self.tombstones.setdefault(ref, now)
            return 200, cancelled_object(ref)
        status = bet.status_at(now)
        if status == "settled":
            return 409, bet.status_object(now)
        if status == "unknown":
            if not bet.fenceable:
                return 404, dict(UNKNOWN_BET)
            bet.fenced = True
        bet.cancelled = True
        return 200, bet.status_object(now)

    def truth(self, now: float) -> dict[str, Any]:
        return {
            "bets": {ref: bet.truth(now) for ref, bet in self.bets.items()},
            "tombstones": {ref: iso(at) for ref, at in self.tombstones.items()},
        }
