"""The invariants the audit (audit.py) and the property tests (tests/property/) both check,
as pure functions over rows and facts: one implementation, read the same way by a drill's
audit of a whole run and by a property test after each step.

Each works on plain values (a state, a reference, an amount as the wallet or an event
wrote it), so a bet row of either reader fits.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from decimal import Decimal
from typing import Any

from betguard.models.domain.events import EventKind
from betguard.models.domain.states import BetState

# The events that decide a bet for good: a bet has at most one of them.
FINAL_KINDS = (EventKind.BET_SETTLED.value, EventKind.BET_REFUNDED.value)
# The states a refund in the wallet's ledger may stand behind: betguard refunded the
# bet, or decided to and is waiting for the wallet's confirmation.
REFUND_STATES = (BetState.REFUNDED, BetState.REFUND_PENDING)
# The states a bet is not done in: each needs a next step.
UNFINISHED = (BetState.PENDING, BetState.REFUND_PENDING, BetState.IN_REVIEW)
# The states whose bets a sweep takes once their next check falls due (services/sweeps.py):
# a pending bet's check, a refund_pending bet's refund. No sweep takes a bet in review,
# nor a refund without a next check (its retries stopped after the wallet's rejections).
SWEPT = (BetState.PENDING, BetState.REFUND_PENDING)


def holds_refund(state: str | None) -> bool:
    """Whether betguard holds a bet in ``state`` (None: no such bet) as refunded, or its
    refund as under way."""
    return state in REFUND_STATES


def refund_without_refunded_bet(bet_ref: str, state: str | None) -> list[str]:
    """The wallet paid back the stake of ``bet_ref``: betguard must hold that bet (in
    ``state``; None: it holds no such bet) as refunded or refund pending."""
    if holds_refund(state):
        return []
    return [f"{bet_ref}: refunded by the wallet, bet is {'unknown' if state is None else state}"]


def refunds_per_bet(refunds: Iterable[Mapping[str, Any]]) -> Counter[str]:
    """How many refunds the wallet's ledger holds for each bet reference."""
    return Counter(refund["bet_ref"] for refund in refunds)


def unrecorded(placed: Iterable[str], recorded: Collection[str]) -> list[str]:
    """The references placed that betguard holds no bet for (sorted): lost bets."""
    return sorted(ref for ref in placed if ref not in recorded)


def pays_as_said(said: str | None, payout: Decimal | None) -> bool:
    """Whether a bet paying ``payout`` pays what was said (an amount as JSON carries it,
    by the provider or in the bet's ``bet_settled`` event; None: nothing was said)."""
    return said is not None and Decimal(said) == payout


def dead_end(label: str, state: str, *, next_check: bool, open_reviews: int) -> list[str]:
    """A bet in ``state`` that is not final must have a next step: a next check a sweep
    takes (``next_check``: its ``next_check_at`` is set, in a state a sweep takes) or an
    open review (``open_reviews`` of them), for a person to decide. Else nothing will
    ever move it: a stake never returned, a result never paid."""
    if state not in UNFINISHED or open_reviews > 0 or (next_check and state in SWEPT):
        return []
    why = "a next check no sweep takes" if next_check else "no next check"
    return [f"{label}: {state} with {why} and no open review"]
