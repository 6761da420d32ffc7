"""Bet states and the transitions docs/design.md allows between them."""

from __future__ import annotations

from enum import StrEnum

from betguard.models.domain.errors import IllegalTransition


class BetState(StrEnum):
    PENDING = "pending"  # placed, result not yet known
    REFUND_PENDING = "refund_pending"  # refund decided, wallet not yet confirmed
    IN_REVIEW = "in_review"  # a person must decide
    SETTLED = "settled"  # final: the provider's (or ops') result
    REFUNDED = "refunded"  # final: stake returned


FINAL_STATES = frozenset({BetState.SETTLED, BetState.REFUNDED})

ALLOWED: dict[BetState, frozenset[BetState]] = {
    BetState.PENDING: frozenset({BetState.SETTLED, BetState.REFUND_PENDING, BetState.IN_REVIEW}),
    # To settled only when the wallet rejected the refund (it paid nothing) and the
    # provider turned out to have a result: ``transitions.settle_instead_of_refund``.
    BetState.REFUND_PENDING: frozenset({BetState.REFUNDED, BetState.SETTLED}),
    BetState.IN_REVIEW: frozenset({BetState.SETTLED, BetState.REFUND_PENDING, BetState.PENDING}),
    BetState.SETTLED: frozenset(),
    BetState.REFUNDED: frozenset(),
}


def ensure_transition(current: BetState, target: BetState) -> None:
    """Refuse a transition the state machine does not allow."""
    if target not in ALLOWED[current]:
        raise IllegalTransition(f"a bet cannot go from {current.value} to {target.value}")
