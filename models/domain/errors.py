"""Errors of the domain. One root; each category says what the caller should do."""

from __future__ import annotations

from collections.abc import Sequence


class BetguardError(Exception):
    """Raised for every refusal of the domain; never for a bug."""


class InvalidBet(BetguardError):
    """Raised when a bet to register is malformed; names each bad field."""

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        self.problems = list(problems)
        super().__init__("invalid bet: " + "; ".join(f"{f}: {m}" for f, m in self.problems))

    @property
    def fields(self) -> list[str]:
        return [field for field, _ in self.problems]


class ConflictingBet(BetguardError):
    """Raised when a bet reference is registered again with a different payload."""

    def __init__(self, provider: str, bet_ref: str, fields: Sequence[str]) -> None:
        self.fields = list(fields)
        super().__init__(
            f"bet {provider}/{bet_ref} already exists with different "
            + ", ".join(self.fields)
        )


class BetNotFound(BetguardError):
    """Raised when no bet has the given provider and reference (or id)."""


class UnknownProvider(BetguardError):
    """Raised when a bet names a provider that has no policy."""


class IllegalTransition(BetguardError):
    """Raised when an action is asked of a bet whose state does not allow it."""


class InvalidCommand(BetguardError):
    """Raised when an operator's or game server's command is malformed."""


class ContradictingCommand(InvalidCommand):
    """Raised when a well-formed command contradicts the bet it is about (a result in
    another currency than the bet's); names the field, as an ``InvalidCommand`` does."""
