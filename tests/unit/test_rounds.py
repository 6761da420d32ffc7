"""A provider that names rounds answers about a round; one round may hold several bets.
Its answer is each bet's answer wherever it cannot pay twice; a round's payout for
stakes that are not this bet's alone goes to a person, never once per bet."""

from __future__ import annotations

from decimal import Decimal

import pytest

from betguard.models.domain.answers import BetStatus, ProviderStatus
from betguard.models.domain.escalation import Action, ConflictingAnswer, decide_after_check
from betguard.models.domain.events import ReviewReason
from betguard.models.domain.rounds import answer_for_bet
from betguard.models.domain.snapshot import BetSnapshot
from betguard.models.domain.states import BetState
from tests.unit.escalation_cases import DEADLINE, NOW, PLACED_AT, REFUND

ROUND = "vs20olympgate:8812345"


def settled(payout: str, stake: str | None) -> BetStatus:
    return BetStatus(ROUND, ProviderStatus.SETTLED, payout=Decimal(payout), currency="EUR",
                     via="mirror", stake=None if stake is None else Decimal(stake))


def for_bet(answer: BetStatus, stake: str = "6.00", *, bet_ref: str = "ref-1",
            round_ref: str = ROUND) -> BetStatus:
    bet = BetSnapshot(
        id=1, provider="pp", bet_ref=bet_ref, round_ref=round_ref, player_id="p-1",
        game_id="vs20olympgate", round_id="8812345", stake=Decimal(stake), currency="EUR",
        placed_at=PLACED_AT, state=BetState.PENDING, payout=None, deadline=DEADLINE,
        next_check_at=None, check_attempt=2, version=1)
    return answer_for_bet(answer, bet)


def test_a_bet_that_is_its_own_round_takes_the_answer_as_it_is() -> None:
    answer = settled("31.50", "10.00")

    assert for_bet(answer, bet_ref=ROUND) is answer


def test_a_round_whose_whole_stake_is_this_bets_pays_this_bet() -> None:
    answer = settled("31.50", "6.00")

    assert for_bet(answer) is answer


@pytest.mark.parametrize("round_stake", ["10.00", None])
def test_a_round_payout_for_more_than_this_bets_stake_goes_to_a_person(
    round_stake: str | None,
) -> None:
    found = for_bet(settled("31.50", round_stake))

    assert isinstance(found, ConflictingAnswer)
    assert found.status is ProviderStatus.FINISHED  # never settles, never refunds
    assert found.bet_ref == "ref-1" and found.via == "mirror"
    decision = decide_after_check(REFUND, stake=Decimal("6.00"), currency="EUR", answer=found,
                                  now=NOW, placed_at=PLACED_AT, deadline=DEADLINE)
    assert decision.action is Action.REVIEW
    assert decision.review_reason is ReviewReason.AMBIGUOUS
    assert f"round {ROUND} paid 31.50 EUR" in decision.reason
    assert "cannot be split" in decision.reason


@pytest.mark.parametrize("answer", [
    settled("0.00", "10.00"),  # every bet of the round lost
    BetStatus(ROUND, ProviderStatus.CANCELLED, via="mirror"),  # each bet's own stake back
    BetStatus(ROUND, ProviderStatus.PENDING),
    BetStatus(ROUND, ProviderStatus.UNKNOWN),
    BetStatus(ROUND, ProviderStatus.FINISHED),
])
def test_answers_that_cannot_pay_twice_are_every_bets_answer(answer: BetStatus) -> None:
    assert for_bet(answer) is answer


def test_rows_that_disagree_stay_a_conflict() -> None:
    conflict = ConflictingAnswer(ROUND, ProviderStatus.FINISHED,
                                 answers=(settled("1.00", None), settled("2.00", None)))

    assert for_bet(conflict) is conflict
