"""The simulator's Pragmatic Play provider: DataFeeds of finished and incomplete rounds
per environment and data type, cancelRound, and the environments list.

Modelled on what public operator integrations send and read (docs/providers/pragmatic.md
lists each fact with its source); where they are silent the simulator's choices are said
below.

Authentication. DataFeeds calls (GET, query string) carry ``login`` (the operator's
secure login; the simulator knows one, ``$SIMULATOR_PRAGMATIC_SECURE_LOGIN`` or
"test-login") and ``password`` (the provider secret), no hash. The http API calls
(``CasinoGameAPI``, ``SystemAPI``) carry ``secureLogin`` and ``hash``: the lowercase hex
MD5 of every other non-empty parameter sorted by key (plain string order), joined as
``k=v&k=v`` with the raw (not url-encoded) values, the secret appended directly.

Answers are HTTP 200 with JSON ``{"error": <code>, "description": "<text>", ...}`` (only
an outage, or an injected 503, is another status); the http API sends the code as a
string (``"0"``), DataFeeds as an integer. The codes (:data:`ERRORS`): 0 ok, 2 player not
found, 4 authentication failed, 5 invalid hash, 7 bad parameters, 8 game not found
(cancelRound: nothing to cancel), 100 internal error (retry; also a feed called too
often, the simulator's choice), 120 internal error without retry (cancelRound: the round
already has its result), 17 (unknown: sent by the control ``next_code``).

Rounds. A bet registered with a ref ``<gameId>:<roundId>`` (gameId: letters, digits and
``_``, at most 64; roundId: 1 to 19 digits below 2^63) is a round of this provider; other
refs, and bets of fate "unknown", are not played here. A round's player, environment and
data type come from the control ``POST /_sim/pragmatic/rounds`` (a bet spec with the
extra keys ``player_id``, ``environment``, ``data_type`` and ``in_progress_row``); a
round registered through the generic ``POST /_sim/bets`` has no player (any
``playerId`` may ask about it) and is an ``RNG`` round of the environment "main".

Environments. "main" is the simulator's root; any other environment ``<env>`` (letters,
digits and ``._-``) is served under ``/env/<env>``. ``GET
/IntegrationService/v3/http/SystemAPI/environments`` (``secureLogin``, ``hash``) lists
"main" and every environment a round was registered in, as ``{"envName", "apiDomain"}``
-- the apiDomain of a simulated environment is the simulator's host and that prefix (one
process serves them all; a real apiDomain is a bare host).

The calls:

* ``GET <env>/IntegrationService/v3/DataFeeds/gamerounds/incomplete/`` (``login``,
  ``password``, ``playerId``, ``dataType``, ``timepoint``): the player's rounds of that
  environment and data type the provider knows and that have no result yet, as
  ``{"error": 0, "playerId", "data": [{"gameId", "playSessionID", "betAmount"}]}``;
* ``POST /IntegrationService/v3/http/CasinoGameAPI/cancelRound`` (``externalPlayerId``,
  ``gameId``, ``roundId``, ``secureLogin``, ``hash``): the generic book's cancel -- a
  pending round is cancelled for good (0), a round with a result answers 120, a round not
  known yet is fenced by a tombstone (0) or, when it cannot be (knob ``tombstones`` off),
  8; a round of another player is 8.
* ``GET <env>/IntegrationService/v3/DataFeeds/gamerounds/finished/`` (``login``,
  ``password``, ``timepoint``, ``dataType``): text::

    timepoint=<ms>
    playerID,extPlayerID,gameID,playSessionID,parentSessionID,startDate,endDate,status,type,bet,win,currency,jackpot
    <one line per round of the feed that entered it at or after the timepoint>

A finished round enters its feed a while after it finished (knob ``feed_lag_range``,
drawn per record) at a feed moment (ms, strictly increasing, never below the clock when
it enters). Rows are listed by that moment from the requested timepoint on, inclusive,
and the ``timepoint`` line is the last listed row's (the request's when none). Status
``C`` is a completed round (``win`` its payout), ``V`` (void) one cancelled by
``cancelRound`` while it ran, ``I`` a round in progress (registered with
``in_progress_row``: its row shows with an empty ``endDate`` until the result replaces
it); a round fenced before the provider played it has no row. ``parentSessionID`` is
``null`` for a round of its own. Dates are UTC, ``YYYY-MM-DD HH:MM:SS.mmm``. A call
sooner than ``feed_min_interval`` after the previous answered call of the same feed gets
``{"error": 100, ...}`` as JSON instead.

Unsigned controls (``/_sim/pragmatic/...``): give a completed round another win (the
provider re-finishes it: a new ``endDate``, so a newer version of the same row), add a
duplicate row (a new ``playSessionID`` whose ``parentSessionID`` is the round: a second
record of the same bet), read a round's rows, put a line of any text into a feed
(``lines``: a row of the public shape or not), and answer the next http API call with a
given code (``next_code``). Nothing runs on a timer: what is due is applied before every
request served.
"""

from __future__ import annotations

import bisect
import csv
import hashlib
import heapq
import hmac
import io
import itertools
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from flask import Flask, Response, jsonify, request

from betguard_devkit.simulator.book import BetBook
from betguard_devkit.simulator.inputs import (
    Fate,
    Fault,
    InputError,
    amount,
    parse_bet_spec,
    require_object,
)
from betguard_devkit.simulator.knobs import Knobs
from betguard_devkit.simulator.records import SimBet, iso
from betguard_devkit.simulator.state import SimState

T = TypeVar("T")

HTTP_API = "/IntegrationService/v3/http"
CANCEL_PATH = f"{HTTP_API}/CasinoGameAPI/cancelRound"
ENVIRONMENTS_PATH = f"{HTTP_API}/SystemAPI/environments"
DATA_FEEDS = "/IntegrationService/v3/DataFeeds"
FEED_PATH = f"{DATA_FEEDS}/gamerounds/finished/"
INCOMPLETE_PATH = f"{DATA_FEEDS}/gamerounds/incomplete/"
SECURE_LOGIN_ENV = "SIMULATOR_PRAGMATIC_SECURE_LOGIN"
DEFAULT_SECURE_LOGIN = "test-login"
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
_GAME = re.compile(r"[A-Za-z0-9_]{1,64}")
_ROUND = re.compile(r"[1-9][0-9]{0,18}")
_PLAYER = re.compile(r"[A-Za-z0-9._:@-]{1,128}")
_ENV = re.compile(r"[A-Za-z0-9._-]{1,64}")
_DIGITS = re.compile(r"[0-9]{1,15}")


def split_ref(bet_ref: str) -> tuple[str, int] | None:
    """(gameId, roundId) of a ref that is one of this provider's rounds, else None."""
    found = _REF.fullmatch(bet_ref)
    if found is None or int(found.group(2)) >= 2**63:
        return None
    return found.group(1), int(found.group(2))


def request_hash(params: dict[str, str], secret: str) -> str:
    """The hash as this provider computes it (see the module's docstring)."""
    joined = "&".join(f"{key}={params[key]}" for key in sorted(params)
                      if key != "hash" and params[key])
    return hashlib.md5((joined + secret).encode("utf-8"), usedforsecurity=False).hexdigest()


def stamp(ms: int) -> str:
    """A feed date: UTC, to the millisecond."""
    moment = datetime.fromtimestamp(ms // 1000, tz=UTC)
    return f"{moment:%Y-%m-%d %H:%M:%S}.{ms % 1000:03d}"


def _ms(moment: float) -> int:
    return int(moment * 1000)


def _money(value: Decimal) -> str:
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
            _money(self.stake),
            _money(self.win),
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


# -- requests ------------------------------------------------------------------------------


class CallError(Exception):
    """A call refused: ``code`` is one of :data:`ERRORS`."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def parse_params(raw: bytes) -> dict[str, str]:
    """The url-encoded parameters, each once; raises :class:`CallError` (7)."""
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(raw))
    except (UnicodeDecodeError, ValueError):
        raise CallError(BAD_PARAMETERS, "body: not url-encoded parameters") from None
    params: dict[str, str] = {}
    for key, value in pairs:
        if key in params:
            raise CallError(BAD_PARAMETERS, f"{key}: given twice")
        params[key] = value
    return params


def authenticate(params: dict[str, str], secret: str, login: str) -> None:
    """An http API call: raise :class:`CallError` unless ``secureLogin`` is known and the
    hash proves the call."""
    if not params.get("secureLogin"):
        raise CallError(BAD_PARAMETERS, "secureLogin: required")
    if params["secureLogin"] != login:
        raise CallError(AUTH_FAILED, "secureLogin: not a known login")
    given = params.get("hash", "")
    if not given:
        raise CallError(BAD_PARAMETERS, "hash: required")
    if not hmac.compare_digest(request_hash(params, secret), given.lower()):
        raise CallError(INVALID_HASH, "hash: does not match the parameters")


def authenticate_feed(params: dict[str, str], secret: str, login: str) -> None:
    """A DataFeeds call: raise :class:`CallError` unless ``login`` and ``password`` are
    the operator's (no hash)."""
    required(params, "login", "password")
    if params["login"] != login or not hmac.compare_digest(params["password"], secret):
        raise CallError(AUTH_FAILED, "login or password: not the operator's")


def required(params: dict[str, str], *keys: str) -> None:
    missing = [key for key in keys if not params.get(key)]
    if missing:
        raise CallError(BAD_PARAMETERS, f"{', '.join(missing)}: required")


def player_of(params: dict[str, str], key: str) -> str:
    required(params, key)
    if not _PLAYER.fullmatch(params[key]):
        raise CallError(BAD_PARAMETERS, f"{key}: letters, digits and ._:@- only, at most 128")
    return params[key]


def round_of(params: dict[str, str]) -> str:
    required(params, "gameId", "roundId")
    if not _GAME.fullmatch(params["gameId"]):
        raise CallError(BAD_PARAMETERS, "gameId: letters, digits and _ only, at most 64")
    ref = f"{params['gameId']}:{params['roundId']}"
    if not _ROUND.fullmatch(params["roundId"]) or split_ref(ref) is None:
        raise CallError(BAD_PARAMETERS, "roundId: a positive integer below 2^63, no leading 0")
    return ref


def feed_query(params: dict[str, str]) -> tuple[int, str]:
    """The ``timepoint`` and ``dataType`` of a DataFeeds call."""
    required(params, "timepoint", "dataType")
    if not _DIGITS.fullmatch(params["timepoint"]):
        raise CallError(BAD_PARAMETERS, "timepoint: milliseconds since the epoch")
    if params["dataType"] not in DATA_TYPES:
        raise CallError(BAD_PARAMETERS, f"dataType: one of {', '.join(DATA_TYPES)}")
    return int(params["timepoint"]), params["dataType"]


def answer(code: int, message: str = "", *, as_text: bool = False, **extra: Any) -> Response:
    """This provider's JSON envelope, always under HTTP 200 (the code a string for the
    http API, ``as_text``)."""
    said = ERRORS[code] if not message else f"{ERRORS[code]}: {message}"
    return jsonify({"error": str(code) if as_text else code, "description": said, **extra})


def csv_body(timepoint: int, rows: list[Record]) -> Response:
    out = io.StringIO()
    out.write(f"timepoint={timepoint}\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(record.line() for record in rows)
    return Response(out.getvalue(), status=200, mimetype="text/csv")


Outcome = Callable[[], Response]


def outage() -> Response:
    """The provider is down: no answer of its own."""
    return Response("provider outage", status=503, mimetype="text/plain")


def _served(state: SimState, refs: list[str], run: Outcome, *, csv_feed: bool = False,
            as_text: bool = False) -> Response:
    """The answer with the simulator's faults: a 503 (nothing happened), a pause, an
    internal error (``error_with_200``), or a body that is no answer at all."""
    fault = state.next_provider_fault(refs)
    if fault is Fault.ERROR_503:
        return Response("service unavailable", status=503, mimetype="text/plain")
    if fault is Fault.ERROR_WITH_200:
        return answer(INTERNAL_ERROR, "simulated", as_text=as_text)
    knobs = state.knobs
    pause = knobs.latency_ms / 1000.0 + (knobs.timeout_seconds if fault is Fault.TIMEOUT else 0)
    result = run()
    if pause > 0:
        time.sleep(pause)
    if fault is not None and fault is not Fault.TIMEOUT:
        garbage = "timepoint=soon\nnot,a,feed\n" if csv_feed else '{"error": "none"}'
        return Response(garbage, status=200, mimetype="text/csv" if csv_feed else
                        "application/json")
    return result


def _form(secret: str, login: str, *, query: bool = False) -> dict[str, str]:
    """A hash-signed http API call's parameters; raises :class:`CallError`."""
    if query:
        params = parse_params(request.query_string)
    else:
        content_type = (request.content_type or "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            raise CallError(BAD_PARAMETERS,
                            "Content-Type: must be application/x-www-form-urlencoded")
        params = parse_params(request.get_data())
    authenticate(params, secret, login)
    return params


def add_routes(app: Flask, state: SimState, secret: str) -> None:
    """Add the http API calls, the DataFeeds of every environment, the controls and the
    hook that keeps the rounds due."""
    login = os.environ.get(SECURE_LOGIN_ENV) or DEFAULT_SECURE_LOGIN
    provider = Provider(state)

    @app.before_request
    def keep_the_rounds_due() -> None:
        state.read(provider.due)

    _add_api(app, provider, secret, login)
    _add_feeds(app, provider, secret, login)
    _add_controls(app, provider)


def _add_api(app: Flask, provider: Provider, secret: str, login: str) -> None:
    """cancelRound and the environments list, on the simulator's root."""
    state = provider.state

    @app.post(CANCEL_PATH)
    def cancel_round() -> Response:
        if state.take_outage():
            return outage()
        try:
            params = _form(secret, login)
            player, ref = player_of(params, "externalPlayerId"), round_of(params)
        except CallError as exc:
            return answer(exc.code, str(exc), as_text=True)
        state.count("cancel", [ref])
        forced = provider.take_code()
        if forced is not None:
            return answer(forced, "simulated", as_text=True)
        return _served(state, [ref], lambda: answer(provider.read(
            lambda rounds, _book, now, knobs: rounds.cancel(player, ref, now, knobs)),
            as_text=True), as_text=True)

    @app.get(ENVIRONMENTS_PATH)
    def environments() -> Response:
        if state.take_outage():
            return outage()
        try:
            _form(secret, login, query=True)
        except CallError as exc:
            return answer(exc.code, str(exc), as_text=True)
        forced = provider.take_code()
        if forced is not None:
            return answer(forced, "simulated", as_text=True)
        host = request.host
        names = provider.read(lambda rounds, _book, _now, _knobs: sorted(rounds.environments))
        listed = [{"envName": name, "apiDomain": host if name == MAIN else f"{host}/env/{name}"}
                  for name in names]
        return answer(OK, as_text=True, environments=listed)


def _add_feeds(app: Flask, provider: Provider, secret: str, login: str) -> None:
    """The finished and incomplete rounds of the environment "main" (the root) and of
    any other environment (``/env/<name>``)."""
    _add_finished(app, provider, secret, login)
    _add_incomplete(app, provider, secret, login)


def _environment_named(environment: str) -> Response | None:
    if _ENV.fullmatch(environment):
        return None
    return answer(BAD_PARAMETERS, "environment: letters, digits and ._- only")


def _in_every_environment(app: Flask, path: str, name: str,
                          view: Callable[[str], Response]) -> None:
    """Serve ``view`` at ``path`` for "main" (the root) and at ``/env/<name>{path}`` for
    any other environment."""
    def main() -> Response:
        return view(MAIN)

    def elsewhere(environment: str) -> Response:
        return _environment_named(environment) or view(environment)

    app.add_url_rule(path, f"{name}_main", main, methods=["GET"])
    app.add_url_rule(f"/env/<environment>{path}", f"{name}_elsewhere", elsewhere,
                     methods=["GET"])


def _add_finished(app: Flask, provider: Provider, secret: str, login: str) -> None:
    state = provider.state

    def finished(environment: str) -> Response:
        if state.take_outage():
            return outage()
        try:
            params = parse_params(request.query_string)
            authenticate_feed(params, secret, login)
            timepoint, data_type = feed_query(params)
        except CallError as exc:
            return answer(exc.code, str(exc))
        return _served(state, [], lambda: provider.read(
            lambda rounds, _book, now, knobs: _feed(rounds, (environment, data_type),
                                                    timepoint, now, knobs)), csv_feed=True)

    _in_every_environment(app, FEED_PATH, "finished", finished)


def _add_incomplete(app: Flask, provider: Provider, secret: str, login: str) -> None:
    state = provider.state

    def incomplete(environment: str) -> Response:
        if state.take_outage():
            return outage()
        try:
            params = parse_params(request.query_string)
            authenticate_feed(params, secret, login)
            _, data_type = feed_query(params)
            player = player_of(params, "playerId")
        except CallError as exc:
            return answer(exc.code, str(exc))
        state.count("status")
        return _served(state, [], lambda: answer(OK, playerId=player, data=provider.read(
            lambda rounds, _book, now, _knobs: rounds.incomplete(player, environment,
                                                                 data_type, now))))

    _in_every_environment(app, INCOMPLETE_PATH, "incomplete", incomplete)


def _feed(rounds: Rounds, feed: tuple[str, str], timepoint: int, now: float,
          knobs: Knobs) -> Response:
    last = rounds.last_answer_at.get(feed)
    if last is not None and now - last < knobs.feed_min_interval:
        return answer(INTERNAL_ERROR, (
            f"called too often: feed {'/'.join(feed)} called {now - last:.2f} s after its "
            f"previous call, wait at least {knobs.feed_min_interval:g} s between calls"))
    rounds.last_answer_at[feed] = now
    return csv_body(*rounds.feed(*feed, timepoint))


# -- controls ------------------------------------------------------------------------------

Reply = tuple[int, dict[str, Any]]
NOT_A_ROUND: Reply = (404, {"error": "bet_ref: not a played round of this provider",
                            "field": "bet_ref"})


def _environment(body: dict[str, Any]) -> str:
    environment = body.get("environment", MAIN)
    if not isinstance(environment, str) or not _ENV.fullmatch(environment):
        raise InputError("environment", "letters, digits and ._- only, at most 64")
    return environment


def _data_type(body: dict[str, Any]) -> str:
    data_type = body.get("data_type", RNG)
    if data_type not in DATA_TYPES:
        raise InputError("data_type", f"one of {', '.join(DATA_TYPES)}")
    return str(data_type)


def parse_placement(body: dict[str, Any]) -> Placement:
    player, in_progress = body.get("player_id"), body.get("in_progress_row", False)
    if player is not None and (not isinstance(player, str) or not _PLAYER.fullmatch(player)):
        raise InputError("player_id", "letters, digits and ._:@- only, at most 128")
    if not isinstance(in_progress, bool):
        raise InputError("in_progress_row", "true or false")
    return Placement(player, _environment(body), _data_type(body), in_progress)


def _register(body: dict[str, Any]) -> Callable[[Rounds, BetBook, float, Knobs], Reply]:
    spec, placement = parse_bet_spec(body), parse_placement(body)
    if split_ref(spec.bet_ref) is None:
        raise InputError("bet_ref", "must be <gameId>:<roundId> (e.g. vs20olympgate:8812345)")

    def register(rounds: Rounds, book: BetBook, now: float, knobs: Knobs) -> Reply:
        known = spec.bet_ref in book.bets
        if not known:
            rounds.placements[spec.bet_ref] = placement
            rounds.environments.add(placement.environment)
        created, decision = book.register(spec, now, knobs)
        kept = rounds.placements.get(spec.bet_ref, Placement())
        return (201 if created else 200), {**decision, "player_id": kept.player,
                                           "environment": kept.environment,
                                           "data_type": kept.data_type}

    return register


def _win_given(field_name: str = "win") -> Decimal | None:
    body = require_object(request.get_json(silent=True) or {})
    return None if body.get(field_name) is None else amount(body, field_name, positive=False)


def _alter(ref: str, win: Decimal) -> Callable[[Rounds, BetBook, float, Knobs], Reply]:
    def alter(rounds: Rounds, _book: BetBook, now: float, knobs: Knobs) -> Reply:
        altered = rounds.alter_win(ref, win, now, knobs)
        if altered is None or altered.ended_ms is None:
            return 409, {"error": "bet_ref: no completed row of the round in the feed yet",
                         "field": "bet_ref"}
        return 200, {"bet_ref": ref, "row": altered.key, "win": _money(win),
                     "endDate": stamp(altered.ended_ms)}

    return alter


def _duplicate(ref: str, win: Decimal | None) -> Callable[[Rounds, BetBook, float, Knobs], Reply]:
    def duplicate(rounds: Rounds, book: BetBook, now: float, knobs: Knobs) -> Reply:
        bet = book.bets.get(ref)
        if bet is None or ref not in rounds.played:
            return NOT_A_ROUND
        paid = win if win is not None else (bet.payout or Decimal("0"))
        record = rounds.duplicate(bet, paid, now, knobs)
        return 201, {"bet_ref": ref, "row": record.key, "playSessionID": str(record.session),
                     "parentSessionID": str(record.parent), "win": _money(paid)}

    return duplicate


def _describe(ref: str) -> Callable[[Rounds, BetBook, float, Knobs], Reply]:
    def describe(rounds: Rounds, book: BetBook, now: float, _knobs: Knobs) -> Reply:
        placement = rounds.placements.get(ref, Placement())
        bet = book.bets.get(ref)
        return 200, {"bet_ref": ref, "player_id": placement.player,
                     "environment": placement.environment, "data_type": placement.data_type,
                     "status_now": None if bet is None else bet.status_at(now),
                     "rows": rounds.rows_of(ref),
                     "hidden": sum(1 for change in rounds.changes
                                   if change.record.bet_ref == ref),
                     "now": iso(now)}

    return describe


def _line(body: dict[str, Any]) -> Callable[[Rounds, BetBook, float, Knobs], Reply]:
    environment, data_type, fields = _environment(body), _data_type(body), body.get("fields")
    if not isinstance(fields, list) or not all(isinstance(item, str) for item in fields):
        raise InputError("fields", "a list of the line's fields, as text")

    def put(rounds: Rounds, _book: BetBook, now: float, _knobs: Knobs) -> Reply:
        record = rounds.raw_line(environment, data_type, fields, now)
        return 201, {"environment": environment, "data_type": data_type,
                     "timepoint": record.timepoint}

    return put


def _reply(found: Reply) -> tuple[Response, int]:
    status, payload = found
    return jsonify(payload), status


def _refused(exc: InputError) -> tuple[Response, int]:
    return jsonify({"error": str(exc), "field": exc.field}), 400


def _add_controls(app: Flask, provider: Provider) -> None:
    """Unsigned controls: register a round with its player and feed, shape its rows, put
    a line of any text into a feed, force the code of the next http API answers."""

    @app.post("/_sim/pragmatic/rounds")
    def register_round() -> tuple[Response, int]:
        """A bet spec (as ``POST /_sim/bets``) with ``player_id``, ``environment``,
        ``data_type`` and ``in_progress_row``."""
        try:
            body = require_object(request.get_json(silent=True))
            register = _register(body)
        except InputError as exc:
            return _refused(exc)
        return _reply(provider.read(register))

    @app.post("/_sim/pragmatic/rounds/<ref>/win")
    def alter_win(ref: str) -> tuple[Response, int]:
        """Body ``{"win": "6.50"}``: the completed round's row pays another amount."""
        try:
            win = _win_given()
        except InputError as exc:
            return _refused(exc)
        if win is None:
            return _refused(InputError("win", "required"))
        return _reply(provider.read(_alter(ref, win)))

    @app.post("/_sim/pragmatic/rounds/<ref>/duplicate")
    def duplicate(ref: str) -> tuple[Response, int]:
        """Body ``{"win": ...}`` (optional; default the round's payout): a second row."""
        try:
            win = _win_given()
        except InputError as exc:
            return _refused(exc)
        return _reply(provider.read(_duplicate(ref, win)))

    @app.get("/_sim/pragmatic/rounds/<ref>")
    def describe(ref: str) -> tuple[Response, int]:
        """The round's player, feed and rows as the feed lists them, and rows hidden."""
        return _reply(provider.read(_describe(ref)))

    _add_wire_controls(app, provider)


def _add_wire_controls(app: Flask, provider: Provider) -> None:
    """A line of any text into a feed; the code of the next http API answers."""

    @app.post("/_sim/pragmatic/lines")
    def put_line() -> tuple[Response, int]:
        """Body ``{"environment", "data_type", "fields": [...]}``: that line enters the
        feed now, whatever its text."""
        try:
            put = _line(require_object(request.get_json(silent=True)))
        except InputError as exc:
            return _refused(exc)
        return _reply(provider.read(put))

    @app.post("/_sim/pragmatic/next_code")
    def next_code() -> tuple[Response, int]:
        """Body ``{"codes": [17, ...]}``: the next http API calls answer these codes."""
        body = require_object(request.get_json(silent=True))
        codes = body.get("codes")
        if not isinstance(codes, list) or not all(code in ERRORS for code in codes):
            return _refused(InputError("codes", f"a list of codes of {sorted(ERRORS)}"))
        provider.state.read(lambda _book, _now, _knobs: provider.next_codes.extend(codes))
        return jsonify({"codes": provider.next_codes}), 200
