"""How much the property tests exercised, printed at the end of the run (see conftest)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Tally:
    examples: int = 0
    steps: int = 0
    rules: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)

    def summary(self) -> str:
        busiest = ", ".join(f"{name} {count}" for name, count in self.rules.most_common())
        outcomes = ", ".join(f"{name} {count}" for name, count in sorted(self.outcomes.items()))
        return (f"property tests: {self.examples} examples, {self.steps} steps\n"
                f"  rules: {busiest}\n  outcomes: {outcomes}")


TALLY = Tally()
