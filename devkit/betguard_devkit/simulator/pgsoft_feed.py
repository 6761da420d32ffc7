"""The simulator's PG Soft history over one book: each round's hands (one record each),
when each enters the feed, rounds the provider completes itself, and the controls'
changes (docs: ``betguard_devkit.simulator.pgsoft``)."""

from __future__ import annotations

import bisect
import heapq
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from betguard_devkit.simulator.book import BetBook
from betguard_devkit.simulator.inputs import Fate
from betguard_devkit.simulator.knobs import Knobs
from betguard_devkit.simulator.pgsoft_requests import Window
from betguard_devkit.simulator.records import SimBet
from betguard_devkit.simulator.state import SimState

T = TypeVar("T")

BET_ID_BASE = 2**60  # betIds above 2^53: a client that reads them as floats loses digits

GAME_ID = 1543462

PLAYER = "sim-player"

NOT_LAST, LAST, ADJUSTED = 1, 2, 3  # handsStatus

CASH, FREE_GAME = 1, 3  # transactionType

_ROUND = re.compile(r"[1-9][0-9]{0,18}")


def round_id(bet_ref: str) -> int | None:
    """The round id a ref stands for, if it is one of this provider's (canonical decimal
    digits below 2^63: ``str(int(ref)) == ref``)."""
    if not _ROUND.fullmatch(bet_ref):
        return None
    value = int(bet_ref)
    return value if value < 2**63 else None


@dataclass
class Record:
    """One hand of a round at the provider, in the state the feed lists now."""

    bet_id: int
    bet_ref: str
    hands_status: int
    transaction_type: int
    bet_amount: Decimal
    win: Decimal
    currency: str
    placed_at: float
    ended_at: float
    at: float  # when this state happened at the provider (orders states)
    version: int = 0

    def row(self) -> dict[str, Any]:
        """The record as GetHistory words it: PG's public field list, amounts as JSON
        numbers, ids and times as integers."""
        return {
            "parentBetId": int(self.bet_ref),
            "betId": self.bet_id,
            "playerName": PLAYER,
            "gameId": GAME_ID,
            "betType": 1,
            "transactionType": self.transaction_type,
            "platform": 2,
            "currency": self.currency,
            "betAmount": _number(self.bet_amount),
            "winAmount": _number(self.win),
            "jackpotRtpContributionAmount": 0,
            "jackpotContributionAmount": 0,
            "jackpotWinAmount": 0,
            "balanceBefore": 0,
            "balanceAfter": 0,
            "handsStatus": self.hands_status,
            "rowVersion": self.version,
            "betTime": _ms(self.placed_at),
            "betEndTime": _ms(self.ended_at),
            "isFeatureBuy": False,
        }


@dataclass(frozen=True)
class Hand:
    """What one hand records: its status, kind, stake and win."""

    hands_status: int
    transaction_type: int
    bet_amount: Decimal
    win: Decimal


@dataclass(order=True)
class Change:
    """A state of a hand, waiting until it shows in the feed (``visible_at``)."""

    visible_at: float
    seq: int
    bet_id: int = field(compare=False)
    bet_ref: str = field(compare=False)
    hand: Hand = field(compare=False)
    at: float = field(compare=False)
    ended_at: float = field(compare=False)


@dataclass
class Feed:
    """The provider's history of one book. Counters carry over a reset of the book, so
    ids and versions never repeat and a client's cursor never skips a change."""

    book: BetBook
    next_id: int = 1
    last_version: int = 0
    adopted: int = 0  # bets of the book looked at so far (the book only grows)
    hands: dict[str, list[int]] = field(default_factory=dict)  # round ref -> its hand ids
    watched: dict[str, SimBet] = field(default_factory=dict)  # shown, result not yet
    resolved: dict[str, float] = field(default_factory=dict)  # ref -> when, by the provider
    first_visible: dict[str, float] = field(default_factory=dict)  # ref -> its first hand's
    changes: list[Change] = field(default_factory=list)  # heap by visible_at
    seq: itertools.count[int] = field(default_factory=itertools.count)
    records: dict[int, Record] = field(default_factory=dict)
    index: list[tuple[int, int]] = field(default_factory=list)  # (version, bet_id) ascending
    last_answer_at: float | None = None

    # -- what happened at the provider -----------------------------------------

    def advance(self, now: float, knobs: Knobs) -> None:
        """Apply everything due at ``now``: new rounds, results, self-resolutions, and the
        changes that became visible."""
        self._adopt(now, knobs)
        self._finish(now, knobs)
        self._publish(now)

    def _adopt(self, now: float, knobs: Knobs) -> None:
        bets = self.book.bets
        if len(bets) == self.adopted:
            return
        for bet in itertools.islice(bets.values(), self.adopted, None):
            self._adopt_one(bet, now, knobs)
        self.adopted = len(bets)

    def _adopt_one(self, bet: SimBet, now: float, knobs: Knobs) -> None:
        if round_id(bet.bet_ref) is None or bet.fate is Fate.UNKNOWN or bet.cancelled:
            return  # not this provider's round, never seen by it, or refused at once
        self.hands[bet.bet_ref] = []
        known = bet.known_from
        if bet.result_at is not None and bet.result_at <= known and bet.payout is not None:
            self._schedule_result(bet, max(bet.result_at, known), bet.stake, knobs)
            return
        first = Hand(NOT_LAST, CASH, bet.stake, Decimal("0"))
        lag = _draw(self.book, knobs.feed_lag_range)
        self._schedule(self._new_hand(bet.bet_ref), bet.bet_ref, first, known, known, lag)
        self.first_visible[bet.bet_ref] = known + lag
        self.watched[bet.bet_ref] = bet

    def _finish(self, now: float, knobs: Knobs) -> None:
        """Each watched round whose result came shows it; one pending
        ``self_resolve_after`` seconds past its placing is completed by the provider."""
        after = knobs.self_resolve_after
        for ref, bet in list(self.watched.items()):
            due = bet.result_at is not None and bet.payout is not None and now >= bet.result_at
            deadline = max(_placed(bet) + after, bet.known_from)
            resolves = after > 0 and now >= deadline and (
                bet.result_at is None or bet.result_at > deadline)
            if resolves:
                bet.result_at = deadline  # the book's truth: settled by the provider then
                bet.payout = bet.payout if bet.payout is not None else Decimal("0")
                self.resolved[ref] = deadline
            elif not due:
                continue
            del self.watched[ref]
            assert bet.result_at is not None  # noqa: S101 - due or resolved: it has one
            self._schedule_result(bet, bet.result_at, Decimal("0"), knobs)

    def _schedule_result(self, bet: SimBet, at: float, stake: Decimal, knobs: Knobs) -> None:
        """The round's result as its last hands, all showing at once, in order."""
        payout = bet.payout if bet.payout is not None else Decimal("0")
        # Never before the round's first hand: the provider writes a round's hands in order.
        lag = max(_draw(self.book, knobs.feed_lag_range),
                  self.first_visible.get(bet.bet_ref, at) - at)
        free_spins = knobs.free_spin_share > 0 and self.book.rng.random() < knobs.free_spin_share
        if free_spins:
            first = (payout / 2).quantize(Decimal("0.01"))
            hands = [Hand(NOT_LAST, FREE_GAME, Decimal("0"), first),
                     Hand(LAST, FREE_GAME, Decimal("0"), payout - first)]
            if stake > 0:
                hands.insert(0, Hand(NOT_LAST, CASH, stake, Decimal("0")))
        else:
            hands = [Hand(LAST, CASH, stake, payout)]
        for hand in hands:
            self._schedule(self._new_hand(bet.bet_ref), bet.bet_ref, hand, at, at, lag)

    def _publish(self, now: float) -> None:
        while self.changes and self.changes[0].visible_at <= now:
            change = heapq.heappop(self.changes)
            record = self.records.get(change.bet_id)
            if record is not None and change.at < record.at:
                continue  # an older state showing late never replaces a newer one
            self.last_version = max(_ms(change.visible_at), self.last_version + 1)
            bet = self.book.bets[change.bet_ref]
            hand = change.hand
            self.records[change.bet_id] = Record(
                change.bet_id, change.bet_ref, hand.hands_status, hand.transaction_type,
                hand.bet_amount, hand.win, bet.currency, _placed(bet), change.ended_at,
                change.at, self.last_version)
            self.index.append((self.last_version, change.bet_id))

    def _schedule(self, bet_id: int, bet_ref: str, hand: Hand, at: float, ended_at: float,
                  lag: float) -> None:
        heapq.heappush(self.changes, Change(at + lag, next(self.seq), bet_id, bet_ref, hand,
                                            at, ended_at))

    def _new_hand(self, bet_ref: str) -> int:
        bet_id = BET_ID_BASE + self.next_id
        self.next_id += 1
        self.hands[bet_ref].append(bet_id)
        return bet_id

    # -- what the API and the controls read or change --------------------------

    def page(self, row_version: int, count: int) -> list[dict[str, Any]]:
        start = bisect.bisect_left(self.index, (row_version, -1))
        rows: list[dict[str, Any]] = []
        for position in range(start, len(self.index)):  # not islice: it walks from 0
            version, bet_id = self.index[position]
            record = self.records[bet_id]
            if record.version != version:
                continue  # superseded by a newer state, listed at its own version
            rows.append(record.row())
            if len(rows) == count:
                break
        return rows

    def window(self, query: Window) -> list[dict[str, Any]]:
        """The records whose ``betTime`` is in [from, to], by betTime and version, at most
        ``count``."""
        found = sorted((record for record in self.records.values()
                        if query.from_ms <= _ms(record.placed_at) <= query.to_ms),
                       key=lambda record: (_ms(record.placed_at), record.version))
        return [record.row() for record in found[:query.count]]

    def last_hand(self, bet_ref: str) -> Record | None:
        """The round's last hand as shown (None: its result has not shown)."""
        shown = [self.records[i] for i in self.hands.get(bet_ref, []) if i in self.records]
        closing = [record for record in shown if record.hands_status != NOT_LAST]
        return closing[0] if closing else None

    def alter_payout(self, bet: SimBet, last: Record, payout: Decimal, now: float,
                     knobs: Knobs) -> int:
        """The round's last hand adjusted (handsStatus 3) so the round pays ``payout``
        (its end time stays the round's)."""
        others = sum((self.records[i].win for i in self.hands[bet.bet_ref]
                      if i in self.records and i != last.bet_id), start=Decimal("0"))
        hand = Hand(ADJUSTED, last.transaction_type, last.bet_amount, payout - others)
        self._schedule(last.bet_id, bet.bet_ref, hand, now, last.ended_at,
                       _draw(self.book, knobs.feed_lag_range))
        return last.bet_id

    def duplicate(self, bet: SimBet, payout: Decimal, now: float, knobs: Knobs) -> int:
        """A second last hand for the same round: the round recorded as ended twice."""
        bet_id = self._new_hand(bet.bet_ref)
        ended = _ended(bet)
        self._schedule(bet_id, bet.bet_ref, Hand(LAST, CASH, Decimal("0"), payout), now,
                       now if ended is None else ended, _draw(self.book, knobs.feed_lag_range))
        return bet_id

    def round_records(self, bet_ref: str) -> list[dict[str, Any]]:
        return [self.records[i].row() for i in self.hands.get(bet_ref, []) if i in self.records]


def _placed(bet: SimBet) -> float:
    return bet.known_from - bet.lag


def _ended(bet: SimBet) -> float | None:
    """When the round got its result (None: it has none)."""
    return None if bet.result_at is None else max(bet.result_at, bet.known_from)


def _draw(book: BetBook, interval: tuple[float, float]) -> float:
    low, high = interval
    return book.rng.uniform(low, high) if high > 0 else 0.0


def _ms(moment: float) -> int:
    return int(moment * 1000)


def _number(value: Decimal) -> float:
    """An amount as a JSON number, as PG sends it: money has at most a few decimals, so
    the float's shortest text is the amount's own (0.30 goes out as 0.3)."""
    return float(value)


class Feeds:
    """The feed of the simulator's current book (a reset replaces the book), kept due."""

    def __init__(self, state: SimState) -> None:
        self.state = state
        self._feed: Feed | None = None

    def due(self, book: BetBook, now: float, knobs: Knobs) -> Feed:
        """The feed, brought up to ``now``; called under the state's lock."""
        if self._feed is None or self._feed.book is not book:
            fresh = Feed(book)
            if self._feed is not None:
                fresh.next_id, fresh.last_version = self._feed.next_id, self._feed.last_version
            self._feed = fresh
        self._feed.advance(now, knobs)
        return self._feed

    def read(self, view: Callable[[Feed, BetBook, float, Knobs], T]) -> T:
        """Run ``view`` on the due feed under the state's lock."""
        return self.state.read(lambda book, now, knobs: view(self.due(book, now, knobs),
                                                             book, now, knobs))
