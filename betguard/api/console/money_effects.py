"""What each resolution would do to the money, said before it is done (the console
shows it beside each form), and which resolutions a bet's state allows now."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from betguard.models.domain.access import needs_second_person
from betguard.models.domain.events import Resolution
from betguard.models.domain.money import wire_amount
from betguard.models.domain.states import BetState
from betguard.ops.views import BetView
from betguard.providers.wallet import refund_idempotency_key

FINAL = frozenset({BetState.SETTLED.value, BetState.REFUNDED.value})


@dataclass(frozen=True)
class Option:
    resolution: Resolution
    title: str
    effect: str  # what happens to the money
    four_eyes: bool  # above the threshold: proposed, then approved by a second person
    needs: str | None = None  # the extra field: payout, deadline or reference


def options(bet: BetView, *, has_open_review: bool, threshold: Decimal | None) -> list[Option]:
    """The resolutions the bet's state allows now, each with its effect on the money."""
    if not has_open_review:
        return []
    stake = f"{wire_amount(bet.stake)} {bet.currency}"
    key = refund_idempotency_key(bet.provider, bet.bet_ref)

    def big(resolution: Resolution, payout: Decimal | None = None) -> bool:
        return needs_second_person(resolution, bet.stake, payout, threshold)

    if bet.state in FINAL:
        return [Option(Resolution.ACKNOWLEDGED, "Acknowledge",
                       f"No money moves: the bet stays {bet.state}; the review is closed "
                       "with your note.", False)]
    settle_big = big(Resolution.SETTLED)
    payout_rule = ("" if settle_big or threshold is None else
                   f" A payout above {wire_amount(threshold)} needs a second person.")
    settle = Option(Resolution.SETTLED, "Settle with a payout",
                    f"Pays the payout you enter to the player and decides the stake of "
                    f"{stake}. Final: it cannot be undone.{payout_rule}", settle_big,
                    needs="payout")
    if bet.state == BetState.REFUND_PENDING.value:
        return [
            Option(Resolution.RETRY_REFUND, "Retry the refund",
                   f"Sends the refund of {stake} to the wallet again under the same key "
                   f"({key}): the wallet pays it once, never twice.", False),
            Option(Resolution.REFUNDED_OUTSIDE, "Refunded outside betguard",
                   f"Records that {stake} was paid back another way; nothing is sent to "
                   "the wallet.", big(Resolution.REFUNDED_OUTSIDE), needs="reference"),
            settle,
        ]
    return [
        settle,
        Option(Resolution.REFUNDED, "Refund the stake",
               f"Returns {stake} to the player through the wallet, under the key {key}.",
               big(Resolution.REFUNDED)),
        Option(Resolution.RECHECK, "Re-check with the provider",
               "No money moves: the bet is pending again and checked until the new "
               "deadline (the provider's policy if you leave it empty).", False,
               needs="deadline"),
    ]
