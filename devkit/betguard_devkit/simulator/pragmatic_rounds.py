"""The simulator's Pragmatic rounds over one book: which bets are rounds of this provider,
their records (one CSV line each) and when each enters its feed, the codes its calls
answer, and the controls' changes (docs: ``betguard_devkit.simulator.pragmatic``)."""

from __future__ import annotations

import bisect
import hashlib
import heapq
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from betguard_devkit.simulator.book import BetBook
from betguard_devkit.simulator.inputs import Fate
from betguard_devkit.simulator.knobs import Knobs
from betguard_devkit.simulator.records import SimBet
from betguard_devkit.simulator.state import SimState

T = TypeVar("T")

MAIN = "main"
RNG = "RNG"
DATA_TYPES = ("RNG", "LC", "R2", "VSB", "BNG")
COLUMNS = ("playerID", "extPlayerID", "gameID", "playSessionID", "parentSessionID",
           "startDate", "endDate", "status", "type", "bet", "win", "currency", "jackpot")
DUPLICATE_SESSION_BASE = 9 * 10**18  # sessions the controls add: far from tests' round ids
RAW_SESSION_BASE = 8 * 10**18  # row keys of raw lines

OK, PLAYER_NOT_FOUND, AUTH_FAILED, INVALID_HASH = 0, 2, 4, 5
BAD_PARAMETERS, GAME_NOT_FOUND, INTERNAL_ERROR, NO_RETRY, UNLISTED = 7, 8, 100, 120, 17
ERRORS = {
    OK: "OK",
    PLAYER_NOT_FOUND: "player not found",
    AUTH_FAILED: "authentication failed",
    INVALID_HASH: "invalid hash",
    BAD_PARAMETERS: "bad parameters",
    GAME_NOT_FOUND: "game or round not found",
    INTERNAL_ERROR: "internal error, try again later",
    NO_RETRY: "internal error, do not retry",
    UNLISTED: "unlisted",
}

COMPLETED, VOID, IN_PROGRESS = "C", "V", "I"
_REF = re.compile(r"([A-Za-z0-9_]{1,64}):([1-9][0-9]{0,18})")
ENV_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")


def split_ref(bet_ref: str) -> tuple[str, int] | None:
    """(gameId, roundId) of a ref that is one of this provider's rounds, else None."""
    found = _REF.fullmatch(bet_ref)
    if found is None or int(found.group(2)) >= 2**63:
        return None
    return found.group(1), int(found.group(2))


def stamp(ms: int) -> str:
    """A feed date: UTC, to the millisecond."""
    moment = datetime.fromtimestamp(ms // 1000, tz=UTC)
    return f"{moment:%Y-%m-%d %H:%M:%S}.{ms % 1000:03d}"


def _ms(moment: float) -> int:
    return int(moment * 1000)


def as_money(value: Decimal) -> str:
    return f"{value:.2f}"


@dataclass
class Placement:
    """Where a round lives: its player (None: any may ask), environment and data type,
    and whether its in-progress row shows in the feed."""

    player: str | None = None
    environment: str = MAIN
    data_type: str = RNG
    in_progress_row: bool = False


@dataclass
class Record:
    """One row of a feed, in the state the feed lists now."""

    game: str
    session: int
    parent: int | None
    bet_ref: str
    environment: str
    data_type: str
    player: str | None
    stake: Decimal
    currency: str
    started_ms: int
    ended_ms: int | None  # None: in progress
    status: str
    win: Decimal
    timepoint: int = 0  # when this state entered the feed (ms)
    raw: list[str] | None = None  # a control's line, sent as given

    @property
    def key(self) -> str:
        return f"{self.game}:{self.session}"

    @property
    def feed(self) -> tuple[str, str]:
        return self.environment, self.data_type

    def line(self) -> list[str]:
        if self.raw is not None:
            return self.raw
        return [
            str(player_number(self.player or "sim-player")),
            self.player or "sim-player",
            self.game,
            str(self.session),
            "null" if self.parent is None else str(self.parent),
            stamp(self.started_ms),
            "" if self.ended_ms is None else stamp(self.ended_ms),
            self.status,
            "R",
            as_money(self.stake),
            as_money(self.win),
            self.currency,
            "0.00",
        ]

    def as_dict(self) -> dict[str, Any]:
        return {**dict(zip(COLUMNS, self.line(), strict=False)),
                "environment": self.environment, "data_type": self.data_type,
                "timepoint": self.timepoint}


def player_number(player: str) -> int:
    """The provider's own id of a player: a stable number."""
    return 10_000 + int(hashlib.sha256(player.encode()).hexdigest()[:8], 16)


@dataclass(order=True)
class Change:
    """A row state waiting until it shows in its feed (``visible_at``)."""

    visible_at: float
    seq: int
    record: Record = field(compare=False)
    original: bool = field(default=True, compare=False)  # the round's own result


@dataclass
class Rounds:
    """The provider's rounds over one book. Counters carry over a reset of the book, so
    feed moments never repeat and a client's timepoint never skips a row."""

    book: BetBook
    adopted: int = 0  # bets of the book looked at so far (the book only grows)
    placements: dict[str, Placement] = field(default_factory=dict)
    played: set[str] = field(default_factory=set)  # rounds the provider played
    live: dict[str, SimBet] = field(default_factory=dict)  # played rounds maybe still pending
    cancelled: set[str] = field(default_factory=set)  # rounds given a void row
    changes: list[Change] = field(default_factory=list)  # heap by visible_at
    seq: itertools.count[int] = field(default_factory=itertools.count)
    records: dict[str, Record] = field(default_factory=dict)  # row key -> current state
    # (environment, data type) -> [(feed moment, row key)]
    index: dict[tuple[str, str], list[tuple[int, str]]] = field(default_factory=dict)
    last_timepoint: int = 0
    next_session: int = 1
    last_answer_at: dict[tuple[str, str], float] = field(default_factory=dict)  # feed -> when
    environments: set[str] = field(default_factory=lambda: {MAIN})

    # -- what happened at the provider -----------------------------------------

    def advance(self, now: float, knobs: Knobs) -> None:
        """Apply everything due at ``now``: newly registered rounds, visible rows."""
        bets = self.book.bets
        if len(bets) != self.adopted:
            for bet in itertools.islice(bets.values(), self.adopted, None):
                self._adopt(bet, now, knobs)
            self.adopted = len(bets)
        while self.changes and self.changes[0].visible_at <= now:
            self._publish(heapq.heappop(self.changes), now)

    def _adopt(self, bet: SimBet, now: float, knobs: Knobs) -> None:
        if split_ref(bet.bet_ref) is None or bet.fate is Fate.UNKNOWN or bet.fenced:
            return  # not a round of this provider, never seen by it, or refused at once
        self.played.add(bet.bet_ref)
        self.live[bet.bet_ref] = bet
        placement = self.placements.get(bet.bet_ref, Placement())
        if placement.in_progress_row:
            self._schedule(self._record(bet, IN_PROGRESS, Decimal("0"), None),
                           max(now, bet.known_from), knobs)
        if bet.result_at is not None and bet.payout is not None:
            ended = max(bet.result_at, bet.known_from)
            self._schedule(self._record(bet, COMPLETED, bet.payout, _ms(ended)), ended, knobs)

    def _record(self, bet: SimBet, status: str, win: Decimal, ended_ms: int | None,
                session: int | None = None) -> Record:
        game, round_id = split_ref(bet.bet_ref) or ("", 0)
        placement = self.placements.get(bet.bet_ref, Placement())
        return Record(game, round_id if session is None else session,
                      None if session is None else round_id, bet.bet_ref,
                      placement.environment, placement.data_type, placement.player,
                      bet.stake, bet.currency, _ms(bet.known_from - bet.lag), ended_ms,
                      status, win)

    def _schedule(self, record: Record, at: float, knobs: Knobs, *,
                  original: bool = True) -> None:
        low, high = knobs.feed_lag_range
        lag = self.book.rng.uniform(low, high) if high > 0 else 0.0
        heapq.heappush(self.changes, Change(at + lag, next(self.seq), record, original))

    def _publish(self, change: Change, now: float) -> None:
        record = change.record
        bet = self.book.bets.get(record.bet_ref)
        if change.original and record.status == COMPLETED and bet is not None and \
                bet.cancelled:
            return  # cancelled before its result came: the round never completed
        known = self.records.get(record.key)
        if known is not None and _end(record) < _end(known):
            return  # an older state showing late never replaces a newer one
        self.publish(record, now)

    def publish(self, record: Record, now: float) -> None:
        """The row enters its feed now."""
        self.last_timepoint = max(_ms(now), self.last_timepoint + 1)
        record.timepoint = self.last_timepoint
        self.records[record.key] = record
        self.index.setdefault(record.feed, []).append((record.timepoint, record.key))

    # -- the API ---------------------------------------------------------------

    def incomplete(self, player: str, environment: str, data_type: str,
                   now: float) -> list[dict[str, Any]]:
        rounds = []
        for ref, bet in list(self.live.items()):
            status = bet.status_at(now)
            if status in ("settled", "cancelled"):
                del self.live[ref]
                continue
            placement = self.placements.get(ref, Placement())
            if status != "pending" or placement.player not in (None, player) or (
                    placement.environment, placement.data_type) != (environment, data_type):
                continue
            game, round_id = split_ref(ref) or ("", 0)
            rounds.append({"gameId": game, "playSessionID": round_id,
                           "betAmount": float(bet.stake)})
        return rounds

    def cancel(self, player: str, ref: str, now: float, knobs: Knobs) -> int:
        """cancelRound: the book's cancel (200 / 409 / 404) in this provider's codes."""
        placement = self.placements.get(ref)
        if placement is not None and placement.player not in (None, player):
            return GAME_NOT_FOUND  # another player's round: not one this player has
        status, _ = self.book.cancel(ref, now, knobs)
        if status == 409:
            return NO_RETRY
        if status != 200:
            return GAME_NOT_FOUND
        bet = self.book.bets.get(ref)
        if bet is not None and ref in self.played and not bet.fenced and \
                ref not in self.cancelled:
            self.cancelled.add(ref)
            self._schedule(self._record(bet, VOID, Decimal("0"), _ms(now)), now, knobs)
        return OK

    def feed(self, environment: str, data_type: str,
             timepoint: int) -> tuple[int, list[Record]]:
        index = self.index.get((environment, data_type), [])
        start = bisect.bisect_left(index, (timepoint, ""))
        rows = []
        for moment, key in itertools.islice(index, start, None):
            record = self.records[key]
            if record.timepoint == moment and record.feed == (environment, data_type):
                rows.append(record)  # else superseded, listed at its own moment
        return (rows[-1].timepoint if rows else timepoint), rows

    # -- the controls ------------------------------------------------------------

    def alter_win(self, ref: str, win: Decimal, now: float, knobs: Knobs) -> Record | None:
        """The completed round re-finished now with another win (None: no such row)."""
        known = self.records.get(ref)
        if known is None or known.status != COMPLETED or known.ended_ms is None:
            return None
        ended = max(_ms(now), known.ended_ms + 1)
        altered = Record(**{**known.__dict__, "win": win, "ended_ms": ended, "timepoint": 0})
        self._schedule(altered, now, knobs, original=False)
        return altered

    def duplicate(self, bet: SimBet, win: Decimal, now: float, knobs: Knobs) -> Record:
        """A second completed row of the round: another session, the round its parent."""
        session = DUPLICATE_SESSION_BASE + self.next_session
        self.next_session += 1
        ended = _ms(now) if bet.result_at is None else _ms(max(bet.result_at, bet.known_from))
        record = self._record(bet, COMPLETED, win, ended, session=session)
        self._schedule(record, now, knobs, original=False)
        return record

    def raw_line(self, environment: str, data_type: str, fields: list[str],
                 now: float) -> Record:
        """A line of the given text in the feed, now (a row of any shape)."""
        session = RAW_SESSION_BASE + self.next_session
        self.next_session += 1
        record = Record("raw", session, None, "", environment, data_type, None,
                        Decimal("0"), "EUR", 0, 0, "", Decimal("0"), raw=fields)
        self.environments.add(environment)
        self.publish(record, now)
        return record

    def rows_of(self, ref: str) -> list[dict[str, Any]]:
        return [record.as_dict() for record in self.records.values() if record.bet_ref == ref]


def _end(record: Record) -> int:
    return -1 if record.ended_ms is None else record.ended_ms


class Provider:
    """The rounds of the simulator's current book (a reset replaces the book), kept due."""

    def __init__(self, state: SimState) -> None:
        self.state = state
        self._rounds: Rounds | None = None
        self.next_codes: list[int] = []  # codes the next http API calls answer with

    def due(self, book: BetBook, now: float, knobs: Knobs) -> Rounds:
        """The rounds, brought up to ``now``; called under the state's lock."""
        if self._rounds is None or self._rounds.book is not book:
            fresh = Rounds(book)
            if self._rounds is not None:
                fresh.last_timepoint = self._rounds.last_timepoint
                fresh.next_session = self._rounds.next_session
                fresh.environments = self._rounds.environments
            self._rounds = fresh
        self._rounds.advance(now, knobs)
        return self._rounds

    def read(self, view: Callable[[Rounds, BetBook, float, Knobs], T]) -> T:
        """Run ``view`` on the due rounds under the state's lock."""
        return self.state.read(lambda book, now, knobs: view(self.due(book, now, knobs),
                                                             book, now, knobs))

    def take_code(self) -> int | None:
        """The code the next http API call must answer with (the control), if any."""
        return self.state.read(lambda _book, _now, _knobs: (
            self.next_codes.pop(0) if self.next_codes else None))
