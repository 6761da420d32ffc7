"""References for the bets of one demo or drill run, worded as each provider kind words
them, and the prefixes that find them all again.

Providers name bets differently: the generic contract takes any reference, a PG-like
provider names a round by a 64-bit number, a Pragmatic-like one by ``gameId:roundId``.
A run's bets therefore cannot share one prefix: each kind gets one that marks the run.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

# A Pragmatic-like ref: the round it names, ``<gameId>:<roundId>``.
_ROUND = re.compile(r"([A-Za-z0-9_]{1,64}):([1-9][0-9]{0,18})")


def round_fields(ref: str, game: str) -> dict[str, str]:
    """The ``game_id`` and ``round_id`` a game server sends with a bet of ``ref``: the
    round a Pragmatic-like ref names (such a provider names the bet's round by them),
    else a round of the bet's own in ``game``."""
    named = _ROUND.fullmatch(ref)
    if named is not None:
        return {"game_id": named[1], "round_id": named[2]}
    return {"game_id": game, "round_id": f"round-{ref}"}


@dataclass(frozen=True)
class RunRefs:
    run_id: str  # e.g. "drill-1a2b3c": the generic references' prefix
    number: str  # ten digits that mark the run in numeric references

    @classmethod
    def new(cls, run_id: str, rng: random.Random) -> RunRefs:
        return cls(run_id, str(rng.randrange(10**9, 10**10)))

    def ref(self, kind: str, provider: str, n: int) -> str:
        """The ``n``th bet's reference for a provider of adapter ``kind``."""
        if kind == "pgsoft":
            return f"{self.number}{n:07d}"  # a round id: decimal, below 2**63
        if kind == "pragmatic":
            return f"{self.game}:{self.number}{n:07d}"
        return f"{self.run_id}-{provider}-{n:07d}"

    @property
    def game(self) -> str:
        """The game of the run's Pragmatic-like rounds (its id marks the run)."""
        return f"vs20run{self.number}"

    @property
    def prefixes(self) -> tuple[str, ...]:
        return (f"{self.run_id}-", self.number, f"{self.game}:")
