"""Bets and rounds (docs/design.md, "Bets and rounds"): a provider that names rounds, not
bets (Pragmatic), answers about a round, and one round may hold several bets, each with
its own reference and stake.

The round's answer is the bet's answer wherever it cannot pay twice: pending, unknown
or finished (nothing is decided on them), cancelled (each bet's own stake goes back,
under its own reference), settled at 0 (every bet of the round lost), or settled with a
payout when the round's whole stake is this bet's (the round holds only it). A payout of
a round whose stake is not this bet's alone -- several bets, or a stake that does not
match -- cannot be split between its bets: it becomes a :class:`ConflictingAnswer`, and a
person decides. Settling each bet on it would pay the round's win once per bet.

A bet whose round is itself (``round_ref == bet_ref``: every provider that names bets)
takes its answer as it is.
"""

from __future__ import annotations

from betguard.models.domain.answers import BetStatus, ProviderStatus
from betguard.models.domain.escalation import ConflictingAnswer
from betguard.models.domain.money import wire_amount
from betguard.models.domain.snapshot import BetSnapshot


def answer_for_bet(answer: BetStatus, bet: BetSnapshot) -> BetStatus:
    """The bet's answer, from its round's (see the module's docstring)."""
    bet_ref, round_ref, stake = bet.bet_ref, bet.round_ref, bet.stake
    if round_ref == bet_ref or isinstance(answer, ConflictingAnswer):
        return answer
    if answer.status is not ProviderStatus.SETTLED or not answer.payout:
        return answer
    if answer.stake is not None and answer.stake == stake:
        return answer
    paid = wire_amount(answer.payout) + (f" {answer.currency}" if answer.currency else "")
    round_stake = ("an unstated stake" if answer.stake is None
                   else f"a stake of {wire_amount(answer.stake)}")
    reason = (f"round {round_ref} paid {paid} for {round_stake}; this bet staked "
              f"{wire_amount(stake)} of it, and a round's payout cannot be split between "
              "its bets")
    return ConflictingAnswer(bet_ref=bet_ref, status=ProviderStatus.FINISHED, via=answer.via,
                             as_of=answer.as_of, trace_id=answer.trace_id,
                             answers=(answer,), reason=reason)
