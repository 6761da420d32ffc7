"""The simulator's PG Soft provider: no status call, no cancel, only a bet history.

Modelled on PG Soft's ``GetHistory`` as public sources describe it
(docs/providers/pgsoft.md): ``POST /Bet/v4/GetHistory?trace_id=<uuid>`` with a
form-encoded body (``operator_token``, ``secret_key``, ``bet_type=1``, ``row_version``,
``count``), and ``POST /Bet/v4/GetHistoryForSpecificTimeRange`` (``from_time`` and
``to_time`` in ms instead of ``row_version``: the records whose ``betTime`` is in that
window, by betTime). A call without a UUID ``trace_id`` is refused (1034). With
``SIMULATOR_PGSOFT_HASH_SALT`` set, PG's optional hash authentication is required too
(``x-date`` the UTC date ``YYYYMMDD``, ``x-content-sha256`` the body's SHA-256 hex, and
``Authorization: PWS-HMAC-SHA256 Credential=<date>/<operator_token>/pws/v1,
SignedHeaders=host;x-content-sha256;x-date,Signature=<hex HMAC-SHA256(salt, host +
content hash + date)>``).

Every answer is HTTP 200 with ``{"data": [...] | null, "error": null | {"code": "...",
"message": "...", "traceId": "..."}}``; only an outage (or an injected 503) is another
status. The error codes (:data:`ERRORS`): ``1034`` invalid request, ``1204`` invalid
operator (unknown ``operator_token``, wrong ``secret_key`` or hash), ``1200`` internal
error -- also the answer to a call sooner than ``feed_min_interval`` after the last
answered one (PG's own rate-limit answer has no public source; refused calls do not
count, so a client that waits gets through).

The feed. Bets registered (``POST /_sim/bets``) with a canonical decimal ``bet_ref``
below 2^63 are this provider's rounds (``parentBetId``); other refs, and bets of fate
"unknown", never appear. One record is one *hand* (``betId``: 2^60 plus a sequence,
beyond what a float holds exactly), with PG's public field list: ``handsStatus`` 1 (not
the last hand), 2 (the last hand) or 3 (adjusted), ``transactionType`` 1 (cash) or 3
(free game). A round the provider knows before its result shows its first hand (the
stake, no win, not the last) a while after it becomes known (knob ``feed_lag_range``);
its result shows as its last hand, paying the payout. A share of rounds (knob
``free_spin_share``) are free-spin rounds: their result comes as two free-game hands,
the payout split between them. A round that stays pending ``self_resolve_after``
seconds is resolved by the provider itself -- PG's documents say it resolves pending
bets after an interval (60 minutes by default) without saying how the round ends; here
it completes with the result the book drew (0 if none), as a scenario: the book then
shows it settled at that moment.

Each hand's change that shows gets a new ``rowVersion`` (ms, strictly increasing, never
shared, so a page always progresses). A page lists the records whose current version
is at or above ``row_version`` (inclusive: the boundary record comes again), by
version, at most ``count``. Nothing runs on a timer: the changes due are applied before
every request the simulator serves (controls included).

Unsigned controls for reconciliation tests (``/_sim/pgsoft/...``): alter a settled
round's payout (its last hand adjusted, handsStatus 3; the book's payout stays), add a
duplicate last hand (the round recorded as ended twice), and read a round's records.
"""

from __future__ import annotations

import bisect
import hashlib
import heapq
import hmac
import itertools
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from flask import Flask, Response, jsonify, request

from betguard_devkit.simulator import wire
from betguard_devkit.simulator.book import BetBook
from betguard_devkit.simulator.inputs import Fate, Fault, InputError, amount, require_object
from betguard_devkit.simulator.knobs import Knobs
from betguard_devkit.simulator.records import SimBet, iso
from betguard_devkit.simulator.state import SimState

T = TypeVar("T")
Q = TypeVar("Q")

PATH = "/Bet/v4/GetHistory"
WINDOW_PATH = "/Bet/v4/GetHistoryForSpecificTimeRange"
OPERATOR_TOKEN_ENV = "SIMULATOR_PGSOFT_OPERATOR_TOKEN"  # noqa: S105 - a variable name
HASH_SALT_ENV = "SIMULATOR_PGSOFT_HASH_SALT"
DEFAULT_OPERATOR_TOKEN = "test-operator"  # noqa: S105 - the test stack's operator
MIN_COUNT, MAX_COUNT = 1500, 5000
BET_ID_BASE = 2**60  # betIds above 2^53: a client that reads them as floats loses digits
GAME_ID = 1543462
PLAYER = "sim-player"

INVALID_REQUEST = "1034"
INVALID_OPERATOR = "1204"
INTERNAL_ERROR = "1200"
ERRORS = {
    INVALID_REQUEST: "invalid request",
    INVALID_OPERATOR: "invalid operator",
    INTERNAL_ERROR: "internal server error",
}

NOT_LAST, LAST, ADJUSTED = 1, 2, 3  # handsStatus
CASH, FREE_GAME = 1, 3  # transactionType
_ROUND = re.compile(r"[1-9][0-9]{0,18}")
_AUTHORIZATION = re.compile(
    r"PWS-HMAC-SHA256 Credential=([0-9]{8})/([A-Za-z0-9._:-]{1,128})/pws/v1,"
    r"SignedHeaders=host;x-content-sha256;x-date,Signature=([0-9a-f]{64})")
_TRACE_ID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                       r"[0-9a-fA-F]{12}")
_DIGITS = re.compile(r"[0-9]{1,19}")
_FORM_KEYS = ("operator_token", "secret_key", "bet_type", "row_version", "count")
_WINDOW_KEYS = ("operator_token", "secret_key", "bet_type", "from_time", "to_time", "count")


def round_id(bet_ref: str) -> int | None:
    """The round id a ref stands for, if it is one of this provider's (canonical decimal
    digits below 2^63: ``str(int(ref)) == ref``)."""
    if not _ROUND.fullmatch(bet_ref):
        return None
    value = int(bet_ref)
    return value if value < 2**63 else None


def hash_signature(salt: str, host: str, content_sha256: str, x_date: str) -> str:
    """The signature of PG's hash authentication, as this provider computes it."""
    return hmac.new(salt.encode(), f"{host}{content_sha256}{x_date}".encode(),
                    hashlib.sha256).hexdigest()


def check_hash(salt: str, headers: dict[str, str], *, body: bytes, operator_token: str,
               now: float) -> str | None:
    """What is wrong with a request's hash authentication, or None when it proves it."""
    lowered = {key.lower(): value for key, value in headers.items()}
    x_date = lowered.get("x-date", "")
    today = time.strftime("%Y%m%d", time.gmtime(now))
    if x_date != today:
        return f"x-date: {x_date[:20]!r} is not today's UTC date {today} (YYYYMMDD)"
    content = hashlib.sha256(body).hexdigest()
    if lowered.get("x-content-sha256", "") != content:
        return "x-content-sha256: missing or not the SHA-256 hex of the body"
    found = _AUTHORIZATION.fullmatch(lowered.get("authorization", ""))
    if found is None:
        return ("Authorization: missing or not 'PWS-HMAC-SHA256 Credential=<date>/"
                "<operator_token>/pws/v1,SignedHeaders=host;x-content-sha256;x-date,"
                "Signature=<hex>'")
    if found.group(1) != x_date or found.group(2) != operator_token:
        return "Authorization: the credential is not <x-date>/<operator_token>/pws/v1"
    expected = hash_signature(salt, lowered.get("host", ""), content, x_date)
    if not hmac.compare_digest(expected, found.group(3)):
        return "Authorization: the signature does not match the request"
    return None


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


class FeedError(Exception):
    """A GetHistory call refused: ``code`` is one of :data:`ERRORS`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Query:
    row_version: int
    count: int


def parse_form(body: bytes, content_type: str,
               keys: tuple[str, ...] = _FORM_KEYS) -> dict[str, str]:
    """The form's fields, each once; raises :class:`FeedError` (1034) naming the problem."""
    if content_type.split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        raise FeedError(INVALID_REQUEST, "Content-Type: must be application/x-www-form-urlencoded")
    try:
        pairs = parse_qsl(body.decode("ascii"), keep_blank_values=True, strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        raise FeedError(INVALID_REQUEST, "body: not a url-encoded form") from None
    form: dict[str, str] = {}
    for key, value in pairs:
        if key in form:
            raise FeedError(INVALID_REQUEST, f"{key}: given twice")
        form[key] = value
    missing = [key for key in keys if not form.get(key)]
    if missing:
        raise FeedError(INVALID_REQUEST, f"{', '.join(missing)}: required")
    return form


@dataclass(frozen=True)
class Window:
    from_ms: int
    to_ms: int
    count: int


def parse_window(form: dict[str, str]) -> Window:
    """A time-range query: ``from_time`` to ``to_time`` (ms), at most 40 days apart."""
    if form["bet_type"] != "1":
        raise FeedError(INVALID_REQUEST, "bet_type: must be 1 (real-money bets)")
    times = []
    for key in ("from_time", "to_time"):
        if not _DIGITS.fullmatch(form[key]):
            raise FeedError(INVALID_REQUEST, f"{key}: must be Unix milliseconds")
        times.append(int(form[key]))
    if not 0 < times[1] - times[0] <= 40 * 86_400_000:
        raise FeedError(INVALID_REQUEST, "to_time: must be after from_time, by 40 days at most")
    count = form["count"]
    if not _DIGITS.fullmatch(count) or not MIN_COUNT <= int(count) <= MAX_COUNT:
        raise FeedError(INVALID_REQUEST, f"count: must be {MIN_COUNT} to {MAX_COUNT}")
    return Window(times[0], times[1], int(count))


def parse_query(form: dict[str, str]) -> Query:
    if form["bet_type"] != "1":
        raise FeedError(INVALID_REQUEST, "bet_type: must be 1 (real-money bets)")
    if not _DIGITS.fullmatch(form["row_version"]) or int(form["row_version"]) >= 2**63:
        raise FeedError(INVALID_REQUEST, "row_version: must be a non-negative 64-bit integer")
    count = form["count"]
    if not _DIGITS.fullmatch(count) or not MIN_COUNT <= int(count) <= MAX_COUNT:
        raise FeedError(INVALID_REQUEST, f"count: must be {MIN_COUNT} to {MAX_COUNT}")
    return Query(int(form["row_version"]), int(count))


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


def authenticate(form: dict[str, str], body: bytes, secret: str, operator_token: str,
                 salt: str | None) -> None:
    """Raise :class:`FeedError` unless the operator, its secret key and (with a salt) the
    hash authentication check out."""
    if form["operator_token"] != operator_token or not hmac.compare_digest(
            form["secret_key"].encode(), secret.encode()):
        raise FeedError(INVALID_OPERATOR, "unknown operator_token or wrong secret_key")
    if salt is None:
        return
    problem = check_hash(salt, wire.headers(), body=body, operator_token=operator_token,
                         now=time.time())
    if problem is not None:
        raise FeedError(INVALID_OPERATOR, problem)


def trace_id_of(query: str) -> str:
    """The call's ``trace_id`` (a UUID, in the query string); raises :class:`FeedError`."""
    given = [value for key, value in parse_qsl(query, keep_blank_values=True)
             if key == "trace_id"]
    if len(given) != 1 or not _TRACE_ID.fullmatch(given[0]):
        raise FeedError(INVALID_REQUEST, "trace_id: required once in the query string, a UUID")
    return given[0]


def answer(data: list[dict[str, Any]] | None, code: str | None = None, message: str = "",
           trace_id: str | None = None) -> Response:
    """GetHistory's envelope, always under HTTP 200."""
    error = None if code is None else {"code": code, "message": f"{ERRORS[code]}: {message}",
                                       "traceId": trace_id}
    return jsonify({"data": data, "error": error})


def add_routes(app: Flask, state: SimState, secret: str) -> None:
    """Add GetHistory, the ``/_sim/pgsoft`` controls and the hook that keeps the feed due."""
    operator_token = os.environ.get(OPERATOR_TOKEN_ENV) or DEFAULT_OPERATOR_TOKEN
    salt = os.environ.get(HASH_SALT_ENV) or None
    feeds = Feeds(state)

    @app.before_request
    def keep_the_feed_due() -> None:
        state.read(feeds.due)

    def served(keys: tuple[str, ...], parse: Callable[[dict[str, str]], Q],
               read: Callable[[Feed, Q, float, Knobs], Outcome]) -> Response:
        """One history call: an outage, or the request checked (trace id, form,
        credentials, the call's own fields) and answered by ``read`` on the due feed."""
        if state.take_outage():
            return Response("provider outage", status=503, mimetype="text/plain")
        body = request.get_data()
        trace_id = None
        try:
            trace_id = trace_id_of(wire.request_target().partition("?")[2])
            form = parse_form(body, request.content_type or "", keys)
            authenticate(form, body, secret, operator_token, salt)
            query = parse(form)
        except FeedError as exc:
            return answer(None, exc.code, str(exc), trace_id)
        return _served(state, trace_id, lambda: feeds.read(
            lambda feed, _book, now, knobs: read(feed, query, now, knobs)))

    @app.post(PATH)
    def get_history() -> Response:
        return served(_FORM_KEYS, parse_query, _history)

    @app.post(WINDOW_PATH)
    def get_history_for_time_range() -> Response:
        return served(_WINDOW_KEYS, parse_window,
                      lambda feed, window, _now, _knobs: (feed.window(window), None, ""))

    _add_controls(app, feeds)


Outcome = tuple[list[dict[str, Any]] | None, str | None, str]


def _history(feed: Feed, query: Query, now: float, knobs: Knobs) -> Outcome:
    last = feed.last_answer_at
    if last is not None and now - last < knobs.feed_min_interval:
        return None, INTERNAL_ERROR, (
            f"called too often: {now - last:.2f} s after the previous call, "
            f"wait at least {knobs.feed_min_interval:g} s between calls")
    feed.last_answer_at = now
    return feed.page(query.row_version, query.count), None, ""


def _served(state: SimState, trace_id: str, read: Callable[[], Outcome]) -> Response:
    """The answer with the simulator's random faults: a 503 (nothing happened), a pause,
    or, for any malformed-answer fault, a body that is no GetHistory answer."""
    fault = state.next_provider_fault([])
    if fault is Fault.ERROR_503:
        return Response("service unavailable", status=503, mimetype="text/plain")
    knobs = state.knobs
    pause = knobs.latency_ms / 1000.0 + (knobs.timeout_seconds if fault is Fault.TIMEOUT else 0)
    data, code, message = read()
    if pause > 0:
        time.sleep(pause)
    if fault is not None and fault is not Fault.TIMEOUT:
        return Response(b'{"data": "not a list", "error": null}',
                        status=200, mimetype="application/json")
    return answer(data, code, message, trace_id)


Reply = tuple[int, dict[str, Any]]
NOT_A_ROUND: Reply = (404, {"error": "bet_ref: not a round of this provider", "field": "bet_ref"})


def _payout_given() -> Decimal | None:
    """The control's optional ``payout`` (a decimal string); raises :class:`InputError`."""
    body = require_object(request.get_json(silent=True) or {})
    return None if body.get("payout") is None else amount(body, "payout", positive=False)


def _alter(ref: str, payout: Decimal) -> Callable[[Feed, BetBook, float, Knobs], Reply]:
    def alter(feed: Feed, book: BetBook, now: float, knobs: Knobs) -> Reply:
        bet = book.bets.get(ref)
        if bet is None or ref not in feed.hands:
            return NOT_A_ROUND
        status = bet.status_at(now)
        last = feed.last_hand(ref)
        if status != "settled" or last is None:
            return 409, {"error": f"bet_ref: the round is {status}, its result not shown",
                         "field": "bet_ref"}
        bet_id = feed.alter_payout(bet, last, payout, now, knobs)
        return 200, {"bet_ref": ref, "bet_id": bet_id, "payout": f"{payout:.2f}"}

    return alter


def _duplicate(ref: str, payout: Decimal | None) -> Callable[[Feed, BetBook, float, Knobs], Reply]:
    def duplicate(feed: Feed, book: BetBook, now: float, knobs: Knobs) -> Reply:
        bet = book.bets.get(ref)
        if bet is None or ref not in feed.hands:
            return NOT_A_ROUND
        paid = payout if payout is not None else (bet.payout or Decimal("0"))
        bet_id = feed.duplicate(bet, paid, now, knobs)
        return 201, {"bet_ref": ref, "bet_id": bet_id, "payout": f"{paid:.2f}"}

    return duplicate


def _round(ref: str) -> Callable[[Feed, BetBook, float, Knobs], Reply]:
    def describe(feed: Feed, _book: BetBook, _now: float, _knobs: Knobs) -> Reply:
        hands = feed.hands.get(ref) or []
        return 200, {"bet_ref": ref, "bet_id": hands[0] if hands else None,
                     "records": feed.round_records(ref),
                     "hidden": sum(1 for change in feed.changes if change.bet_ref == ref),
                     "self_resolved_at": iso(feed.resolved.get(ref))}

    return describe


def _add_controls(app: Flask, feeds: Feeds) -> None:
    """Unsigned controls that shape the feed for reconciliation tests."""

    def reply(found: Reply) -> tuple[Response, int]:
        status, payload = found
        return jsonify(payload), status

    def refused(exc: InputError) -> tuple[Response, int]:
        return jsonify({"error": str(exc), "field": exc.field}), 400

    @app.post("/_sim/pgsoft/rounds/<ref>/payout")
    def alter_payout(ref: str) -> tuple[Response, int]:
        """Body ``{"payout": "6.50"}``: a settled round's record pays another amount."""
        try:
            payout = _payout_given()
        except InputError as exc:
            return refused(exc)
        if payout is None:
            return refused(InputError("payout", "required"))
        return reply(feeds.read(_alter(ref, payout)))

    @app.post("/_sim/pgsoft/rounds/<ref>/duplicate")
    def duplicate(ref: str) -> tuple[Response, int]:
        """Body ``{"payout": ...}`` (optional; default the round's): a second record."""
        try:
            payout = _payout_given()
        except InputError as exc:
            return refused(exc)
        return reply(feeds.read(_duplicate(ref, payout)))

    @app.get("/_sim/pgsoft/rounds/<ref>")
    def round_records(ref: str) -> tuple[Response, int]:
        """The round's records as the feed lists them now, and how many changes are hidden."""
        return reply(feeds.read(_round(ref)))
