"""Who may do what (docs/console.md): the four roles of a person's account, and the
four-eyes rule: which decisions need a second person before money moves.

Roles are ranked; each one may do everything the ones below it may:

| role | may |
|---|---|
| ``viewer`` | read every page and list |
| ``operator`` | decide reviews, order re-checks, run bulk re-checks, resend notifications |
| ``approver`` | also approve or reject what another person proposed |
| ``admin`` | also manage accounts |
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from betguard.models.domain.errors import BetguardError
from betguard.models.domain.events import Resolution


class Role(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    APPROVER = "approver"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def may(self, needed: Role) -> bool:
        return self.rank >= needed.rank


class NotAllowed(BetguardError):
    """Raised when a person's role does not allow what they asked (a viewer deciding)."""


class NeedsApproval(BetguardError):
    """Raised when a decision moves more money than one person may move alone, and no
    second person approved it: it must be proposed instead."""


@dataclass(frozen=True)
class Actor:
    """Who asks: an account's name and role, and where the request came from
    (``console``, ``api``, ``cli``)."""

    name: str
    role: Role
    via: str

    def require(self, needed: Role, doing: str) -> None:
        if not self.role.may(needed):
            raise NotAllowed(f"{self.name} is {_a(self.role)}: only {_a(needed)} "
                             f"or above may {doing}")


# Decisions that move money or close the question of who has the stake.
MONEY_RESOLUTIONS = frozenset({Resolution.SETTLED, Resolution.REFUNDED,
                               Resolution.REFUNDED_OUTSIDE})


def amount_at_stake(resolution: Resolution, stake: Decimal,
                    payout: Decimal | None) -> Decimal | None:
    """What a decision puts at stake: the larger of the stake and the payout for a
    settlement (a payout of 0 decides the stake as much as a big one pays out), the stake
    for a refund; None for a decision that moves no money."""
    if resolution not in MONEY_RESOLUTIONS:
        return None
    if resolution is Resolution.SETTLED and payout is not None:
        return max(stake, payout)
    return stake


def needs_second_person(resolution: Resolution, stake: Decimal, payout: Decimal | None,
                        threshold: Decimal | None) -> bool:
    """Four eyes: a money decision above the provider's threshold (None: never)."""
    amount = amount_at_stake(resolution, stake, payout)
    return threshold is not None and amount is not None and amount > threshold


def approval_refusal(*, proposer: str, approver: Actor) -> str | None:
    """Why ``approver`` may not approve a proposal of ``proposer``, or None."""
    if not approver.role.may(Role.APPROVER):
        return (f"{approver.name} is {_a(approver.role)}: only an approver or an admin "
                "may approve")
    if approver.name == proposer:
        return f"{approver.name} proposed it: a second person must approve"
    return None


def _a(role: Role) -> str:
    return ("an " if role.value[0] in "aeiou" else "a ") + role.value
