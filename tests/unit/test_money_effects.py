"""What each resolution would do to the money (``betguard.api.console.money_effects``):
which resolutions a bet's state allows while its review is open, what each says it does
to the stake, and which ones a second person must approve."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from betguard.api.console.money_effects import Option, options
from betguard.models.domain.events import Resolution
from betguard.models.domain.states import BetState
from betguard.ops.views import BetView
from betguard.providers.wallet import refund_idempotency_key

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
BET = BetView(
    id=7, provider="acme", bet_ref="b-7", state=BetState.IN_REVIEW.value,
    stake=Decimal("25"), currency="EUR", payout=None, placed_at=NOW,
    deadline=NOW + timedelta(minutes=5), next_check_at=None, final_at=None, attempts=3,
    player_id="p-1", game_id="g-1", round_id="r-1")
KEY = refund_idempotency_key("acme", "b-7")


def bet(state: BetState = BetState.IN_REVIEW, stake: str = "25") -> BetView:
    return replace(BET, state=state.value, stake=Decimal(stake))


def by_resolution(offered: list[Option]) -> dict[Resolution, Option]:
    return {option.resolution: option for option in offered}


def four_eyes(offered: list[Option]) -> dict[Resolution, bool]:
    return {option.resolution: option.four_eyes for option in offered}


# No open review


@pytest.mark.parametrize("state", list(BetState))
def test_without_an_open_review_nothing_is_offered(state: BetState) -> None:
    assert options(bet(state), has_open_review=False, threshold=Decimal("10")) == []


# In review


def test_a_bet_in_review_may_be_settled_refunded_or_rechecked_in_that_order() -> None:
    offered = options(bet(), has_open_review=True, threshold=None)
    assert [o.resolution for o in offered] == [Resolution.SETTLED, Resolution.REFUNDED,
                                               Resolution.RECHECK]


def test_each_resolution_in_review_asks_for_its_extra_field() -> None:
    offered = by_resolution(options(bet(), has_open_review=True, threshold=None))
    assert offered[Resolution.SETTLED].needs == "payout"
    assert offered[Resolution.REFUNDED].needs is None
    assert offered[Resolution.RECHECK].needs == "deadline"


def test_settling_says_it_decides_the_stake_with_two_decimals_and_is_final() -> None:
    settle = by_resolution(options(bet(), has_open_review=True, threshold=None))[
        Resolution.SETTLED]
    assert settle.title == "Settle with a payout"
    assert "decides the stake of 25.00 EUR" in settle.effect
    assert "cannot be undone" in settle.effect


def test_refunding_names_the_stake_and_the_wallets_refund_key() -> None:
    refund = by_resolution(options(bet(), has_open_review=True, threshold=None))[
        Resolution.REFUNDED]
    assert refund.effect == ("Returns 25.00 EUR to the player through the wallet, "
                             f"under the key {KEY}.")


def test_the_refund_key_is_the_one_of_this_provider_and_bet() -> None:
    other = replace(BET, provider="zeta", bet_ref="b-9")
    refund = by_resolution(options(other, has_open_review=True, threshold=None))[
        Resolution.REFUNDED]
    assert refund_idempotency_key("zeta", "b-9") in refund.effect
    assert KEY not in refund.effect


def test_a_recheck_says_no_money_moves_and_never_needs_four_eyes() -> None:
    recheck = by_resolution(options(bet(stake="1000"), has_open_review=True,
                                    threshold=Decimal("0")))[Resolution.RECHECK]
    assert recheck.effect.startswith("No money moves")
    assert recheck.four_eyes is False


def test_in_review_a_stake_above_the_threshold_needs_four_eyes_to_settle_or_refund() -> None:
    offered = options(bet(stake="25"), has_open_review=True, threshold=Decimal("24.99"))
    assert four_eyes(offered) == {Resolution.SETTLED: True, Resolution.REFUNDED: True,
                                  Resolution.RECHECK: False}


def test_in_review_a_stake_equal_to_the_threshold_needs_one_person() -> None:
    offered = options(bet(stake="25"), has_open_review=True, threshold=Decimal("25.00"))
    assert not any(four_eyes(offered).values())


def test_in_review_a_stake_below_the_threshold_needs_one_person() -> None:
    offered = options(bet(stake="25"), has_open_review=True, threshold=Decimal("100"))
    assert not any(four_eyes(offered).values())


def test_without_a_threshold_no_option_needs_four_eyes() -> None:
    offered = options(bet(stake="1000000"), has_open_review=True, threshold=None)
    assert not any(four_eyes(offered).values())


def test_settling_is_flagged_by_the_stake_alone_since_the_payout_is_not_entered_yet() -> None:
    big_payout = replace(bet(stake="5"), payout=Decimal("500"))
    settle = by_resolution(options(big_payout, has_open_review=True,
                                   threshold=Decimal("100")))[Resolution.SETTLED]
    assert settle.four_eyes is False


# Refund pending


def test_a_pending_refund_may_be_retried_recorded_as_paid_outside_or_settled() -> None:
    offered = options(bet(BetState.REFUND_PENDING), has_open_review=True, threshold=None)
    assert [o.resolution for o in offered] == [Resolution.RETRY_REFUND,
                                               Resolution.REFUNDED_OUTSIDE, Resolution.SETTLED]


def test_retrying_a_refund_names_the_stake_and_the_same_key() -> None:
    retry = by_resolution(options(bet(BetState.REFUND_PENDING), has_open_review=True,
                                  threshold=None))[Resolution.RETRY_REFUND]
    assert retry.title == "Retry the refund"
    assert retry.effect == ("Sends the refund of 25.00 EUR to the wallet again under the "
                            f"same key ({KEY}): the wallet pays it once, never twice.")
    assert retry.needs is None


def test_a_refund_paid_outside_names_the_stake_and_asks_for_a_reference() -> None:
    outside = by_resolution(options(bet(BetState.REFUND_PENDING), has_open_review=True,
                                    threshold=None))[Resolution.REFUNDED_OUTSIDE]
    assert outside.effect.startswith("Records that 25.00 EUR was paid back another way")
    assert "nothing is sent to the wallet" in outside.effect
    assert outside.needs == "reference"


def test_a_pending_refund_above_the_threshold_needs_four_eyes_except_to_retry() -> None:
    offered = options(bet(BetState.REFUND_PENDING, stake="25"), has_open_review=True,
                      threshold=Decimal("10"))
    assert four_eyes(offered) == {Resolution.RETRY_REFUND: False,
                                  Resolution.REFUNDED_OUTSIDE: True, Resolution.SETTLED: True}


def test_a_pending_refund_at_the_threshold_needs_one_person() -> None:
    offered = options(bet(BetState.REFUND_PENDING, stake="25"), has_open_review=True,
                      threshold=Decimal("25"))
    assert not any(four_eyes(offered).values())


def test_a_pending_refund_settles_with_a_payout() -> None:
    settle = by_resolution(options(bet(BetState.REFUND_PENDING), has_open_review=True,
                                   threshold=None))[Resolution.SETTLED]
    assert settle.needs == "payout"
    assert "25.00 EUR" in settle.effect


# Final bets


@pytest.mark.parametrize("state", [BetState.SETTLED, BetState.REFUNDED])
def test_a_final_bet_may_only_be_acknowledged_and_no_money_moves(state: BetState) -> None:
    offered = options(bet(state, stake="1000"), has_open_review=True, threshold=Decimal("0"))
    assert offered == [Option(
        Resolution.ACKNOWLEDGED, "Acknowledge",
        f"No money moves: the bet stays {state.value}; the review is closed with your note.",
        False)]


# Writing the stake


@pytest.mark.parametrize(("stake", "written"), [
    ("25", "25.00 EUR"), ("25.5", "25.50 EUR"), ("25.5000", "25.50 EUR"),
    ("0.125", "0.125 EUR"), ("0", "0.00 EUR"),
])
def test_the_stake_is_written_with_at_least_two_decimals(stake: str, written: str) -> None:
    offered = by_resolution(options(bet(stake=stake), has_open_review=True, threshold=None))
    assert f"Returns {written} to the player" in offered[Resolution.REFUNDED].effect
    assert f"decides the stake of {written}." in offered[Resolution.SETTLED].effect


def test_the_stake_is_written_in_the_bets_currency() -> None:
    in_pounds = replace(bet(stake="3"), currency="GBP")
    refund = by_resolution(options(in_pounds, has_open_review=True, threshold=None))[
        Resolution.REFUNDED]
    assert "Returns 3.00 GBP to the player" in refund.effect


amounts = st.decimals(min_value=0, max_value=10**9, places=2,
                      allow_nan=False, allow_infinity=False)


@given(st.sampled_from([BetState.IN_REVIEW, BetState.REFUND_PENDING]), amounts,
       st.none() | amounts)
def test_every_money_option_needs_four_eyes_exactly_when_the_stake_exceeds_the_threshold(
        state: BetState, stake: Decimal, threshold: Decimal | None) -> None:
    offered = options(replace(BET, state=state.value, stake=stake), has_open_review=True,
                      threshold=threshold)
    above = threshold is not None and stake > threshold
    for option in offered:
        moves_money = option.resolution in {Resolution.SETTLED, Resolution.REFUNDED,
                                            Resolution.REFUNDED_OUTSIDE}
        assert option.four_eyes is (above and moves_money)
