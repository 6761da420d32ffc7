"""A round recorded hand by hand is read as one bet: final at its last hand, paying the
sum of its hands; what cannot be one round is left for the rules of several rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from betguard.models.domain.answers import Hand, HistoryRow, ProviderStatus
from betguard.models.domain.hands import fold, fold_all
from betguard.services.reconcile_compare import ThereRow

START = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def hand(i: int, kind: Hand, *, stake: str = "0", win: str = "0", ref: str = "77",
         currency: str = "EUR") -> HistoryRow:
    status = ProviderStatus.PENDING if kind is Hand.NOT_LAST else ProviderStatus.SETTLED
    return HistoryRow(row_id=f"{ref}-{i}", bet_ref=ref, status=status, version=100 + i,
                      stake=Decimal(stake), payout=Decimal(win), currency=currency,
                      placed_at=START + timedelta(seconds=i),
                      settled_at=START + timedelta(seconds=i + 1), hand=kind)


def test_a_round_is_final_at_its_last_hand_paying_the_sum_of_its_hands() -> None:
    (round_,) = fold([hand(3, Hand.LAST, win="7.50"), hand(1, Hand.NOT_LAST, stake="10"),
                      hand(2, Hand.NOT_LAST, win="2.50")])
    assert (round_.status, round_.stake, round_.payout, round_.hands) == (
        ProviderStatus.SETTLED, Decimal("10"), Decimal("10.00"), 3)
    assert (round_.row_id, round_.version, round_.hand) == ("77-1", 103, None)
    assert (round_.placed_at, round_.settled_at) == (START + timedelta(seconds=1),
                                                     START + timedelta(seconds=4))


def test_a_round_without_its_last_hand_is_pending_without_a_payout() -> None:
    (round_,) = fold([hand(1, Hand.NOT_LAST, stake="10"), hand(2, Hand.NOT_LAST, win="2")])
    assert (round_.status, round_.payout, round_.settled_at) == (ProviderStatus.PENDING,
                                                                 None, None)


def test_an_adjusted_hand_makes_the_round_final() -> None:
    (round_,) = fold([hand(1, Hand.NOT_LAST, stake="10"), hand(2, Hand.ADJUSTED, win="4")])
    assert (round_.status, round_.payout) == (ProviderStatus.SETTLED, Decimal("4"))


def test_a_round_that_ended_twice_is_left_as_its_rows_for_a_person() -> None:
    rows = [hand(1, Hand.LAST, stake="10", win="5"), hand(2, Hand.LAST, win="5")]
    assert fold(rows) == rows


def test_a_last_hand_and_an_adjusted_one_are_left_as_their_rows_for_a_person() -> None:
    rows = [hand(1, Hand.ADJUSTED, stake="10", win="6.50"), hand(2, Hand.LAST, win="5")]
    assert fold(rows) == rows


def test_hands_in_different_currencies_are_left_as_they_are() -> None:
    rows = [hand(1, Hand.NOT_LAST, stake="10"), hand(2, Hand.LAST, currency="USD")]
    assert fold(rows) == rows


def test_whole_bet_rows_are_never_folded_nor_mixed_with_hands() -> None:
    whole = HistoryRow(row_id="w", bet_ref="77", status=ProviderStatus.SETTLED, version=1,
                       payout=Decimal("3"))
    assert fold([whole]) == [whole]
    assert fold([whole, hand(1, Hand.LAST)]) == [whole, hand(1, Hand.LAST)]


def test_reconciliation_rows_fold_the_same_way_bet_by_bet() -> None:
    def there(i: int, ref: str, kind: Hand, win: str) -> ThereRow:
        status = "pending" if kind is Hand.NOT_LAST else "settled"
        return ThereRow(f"{ref}-{i}", ref, status, i, Decimal("0"), Decimal(win), "EUR",
                        START, START, hand=kind.value)

    folded = fold_all([there(1, "a", Hand.NOT_LAST, "1"), there(2, "b", Hand.LAST, "4"),
                       there(3, "a", Hand.LAST, "2")])
    assert [(row.bet_ref, row.status, row.payout, row.hands) for row in folded] == [
        ("a", "settled", Decimal("3"), 2), ("b", "settled", Decimal("4"), 1)]
