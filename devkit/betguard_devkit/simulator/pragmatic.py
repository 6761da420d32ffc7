"""The simulator's Pragmatic Play-like provider: hash-signed forms, incomplete rounds,
cancelRound, and a CSV feed of finished rounds split over several data domains.

Modelled on Pragmatic Play's casino integration API.

Signing. Every call carries ``secureLogin`` (the operator's login; the simulator knows
one, ``$SIMULATOR_PRAGMATIC_SECURE_LOGIN`` or "test-login") and ``hash``: the lowercase
hex MD5 of every other parameter -- empty ones too -- sorted by key (plain string order),
joined as ``k=v&k=v`` with the raw (not url-encoded) values, the provider secret appended
directly, without a separator.

Answers are HTTP 200 with JSON ``{"error": <int>, "description": "<text>", ...}`` (only an
outage, or an injected 503, is another status). The codes (:data:`ERRORS`): 0 ok, 2 bad
parameters, 4 unknown ``secureLogin``, 5 invalid hash, 7 too many requests (the feed
called too often), 8 round not found, 100 internal error (try later), 120 round already
completed.

Rounds. A bet registered with a ref ``<gameId>:<roundId>`` (gameId: letters, digits and
``_``, at most 64; roundId: 1 to 19 digits below 2^63) is a round of this provider; other
refs, and bets of fate "unknown", are not played here. A round's player and data domain
come from the control ``POST /_sim/pragmatic/rounds`` (a bet spec with the extra keys
``player_id`` and ``domain``); a round registered through the generic ``POST /_sim/bets``
has no player (any ``playerId`` may ask about it) and lives in the domain "main".

The calls (form-encoded POSTs on the API domain, the simulator's root):

* ``.../CasinoGameAPI/getIncompleteRounds/`` (``secureLogin``, ``playerId``): the
  player's rounds the provider knows and that have no result yet, as ``data``:
  ``[{"gameId", "roundId", "betAmount", "currency", "startDate"}]``;
* ``.../CasinoGameAPI/cancelRound/`` (``secureLogin``, ``playerId``, ``gameId``,
  ``roundId``): the generic book's cancel -- a pending round is cancelled for good (0), a
  round with a result answers 120, a round not known yet is fenced by a tombstone (0) or,
  when it cannot be (knob ``tombstones`` off), 8; a round of another player is 8.

The feed (GET, query parameters ``login``, ``timepoint``, ``dataType=RNG``, ``hash``):
``/IntegrationService/v3/DataFeeds/gamerounds/finished/`` serves the domain "main", and
``/d/<domain>/IntegrationService/v3/DataFeeds/gamerounds/finished/`` any other domain
(a name of ``a-z``, digits and ``-``). The body is text::

    timepoint=<ms>
    playerID,extPlayerID,gameID,playSessionID,parentSessionID,startDate,endDate,status,type,bet,win,currency,jackpot
    <one line per round of the domain that entered the feed at or after the timepoint>

A finished round enters its domain's feed a while after it finished (knob
``feed_lag_range``, drawn per record) at a feed moment (ms, strictly increasing, never
below the clock when it enters). Rows are listed by that moment from the requested
timepoint on, inclusive, and the ``timepoint`` line is the last listed row's (the
request's when none): the next call from it gets that boundary row again. Status ``C``
is a completed round (``win`` its payout), ``X`` one cancelled by ``cancelRound`` while
it ran; a round fenced before the provider played it has no row. Dates are UTC,
``YYYY-MM-DD HH:MM:SS.mmm``. A call sooner than ``feed_min_interval`` after the
previous answered call of the same domain gets ``{"error": 7, ...}`` as JSON instead.

Unsigned controls for reconciliation tests (``/_sim/pragmatic/rounds/<ref>/...``): give a
completed round another win (the provider re-finishes it: a new ``endDate``, so a newer
version of the same row), add a duplicate row (a new ``playSessionID`` whose
``parentSessionID`` is the round: a second record of the same bet), read a round's rows.
Nothing runs on a timer: what is due is applied before every request served.
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

API = "/IntegrationService/v3/http/CasinoGameAPI"
INCOMPLETE_PATH = f"{API}/getIncompleteRounds/"
CANCEL_PATH = f"{API}/cancelRound/"
FEED_PATH = "/IntegrationService/v3/DataFeeds/gamerounds/finished/"
SECURE_LOGIN_ENV = "SIMULATOR_PRAGMATIC_SECURE_LOGIN"
DEFAULT_SECURE_LOGIN = "test-login"
MAIN = "main"
DATA_TYPE = "RNG"
COLUMNS = ("playerID", "extPlayerID", "gameID", "playSessionID", "parentSessionID",
           "startDate", "endDate", "status", "type", "bet", "win", "currency", "jackpot")
DUPLICATE_SESSION_BASE = 9 * 10**18  # sessions the controls add: far from tests' round ids

OK, BAD_PARAMETERS, UNKNOWN_LOGIN, INVALID_HASH = 0, 2, 4, 5
TOO_MANY_REQUESTS, ROUND_NOT_FOUND, INTERNAL_ERROR, ROUND_COMPLETED = 7, 8, 100, 120
ERRORS = {
    OK: "OK",
    BAD_PARAMETERS: "bad parameters",
    UNKNOWN_LOGIN: "unknown secureLogin",
    INVALID_HASH: "invalid hash",
    TOO_MANY_REQUESTS: "too many requests, try again later",
    ROUND_NOT_FOUND: "round not found",
    INTERNAL_ERROR: "internal error, try again later",
    ROUND_COMPLETED: "round already completed",
}

COMPLETED, CANCELLED = "C", "X"
_REF = re.compile(r"([A-Za-z0-9_]{1,64}):([1-9][0-9]{0,18})")
_GAME = re.compile(r"[A-Za-z0-9_]{1,64}")
_ROUND = re.compile(r"[1-9][0-9]{0,18}")
_PLAYER = re.compile(r"[A-Za-z0-9._:@-]{1,128}")
_DOMAIN = re.compile(r"[a-z0-9-]{1,32}")
_DIGITS = re.compile(r"[0-9]{1,15}")


def split_ref(bet_ref: str) -> tuple[str, int] | None:
    """(gameId, roundId) of a ref that is one of this provider's rounds, else None."""
    found = _REF.fullmatch(bet_ref)
    if found is None or int(found.group(2)) >= 2**63:
        return None
    return found.group(1), int(found.group(2))


def request_hash(params: dict[str, str], secret: str) -> str:
    """The hash as this provider computes it (see the module's docstring)."""
    joined = "&".join(f"{key}={params[key]}" for key in sorted(params) if key != "hash")
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
    """Where a round lives: its player (None: any may ask) and its data domain."""

    player: str | None = None
    domain: str = MAIN


@dataclass
class Record:
    """One row of a domain's feed, in the state the feed lists now."""

    game: str
    session: int
    parent: int | None
    bet_ref: str
    domain: str
    player: str | None
    stake: Decimal
    currency: str
    started_ms: int
    ended_ms: int
    status: str
    win: Decimal
    timepoint: int = 0  # when this state entered the feed (ms)

    @property
    def key(self) -> str:
        return f"{self.game}:{self.session}"

    def line(self) -> list[str]:
        return [
            str(player_number(self.player or "sim-player")),
            self.player or "sim-player",
            self.game,
            str(self.session),
            "" if self.parent is None else str(self.parent),
            stamp(self.started_ms),
            stamp(self.ended_ms),
            self.status,
            "R",
            _money(self.stake),
            _money(self.win),
            self.currency,
            "0.00",
        ]

    def as_dict(self) -> dict[str, Any]:
        return {**dict(zip(COLUMNS, self.line(), strict=True)), "domain": self.domain,
                "timepoint": self.timepoint}


def player_number(player: str) -> int:
    """The provider's own id of a player: a stable number."""
    return 10_000 + int(hashlib.sha256(player.encode()).hexdigest()[:8], 16)


@dataclass(order=True)
class Change:
    """A row state waiting until it shows in its domain's feed (``visible_at``)."""

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
    cancelled: set[str] = field(default_factory=set)  # rounds given a cancelled row
    changes: list[Change] = field(default_factory=list)  # heap by visible_at
    seq: itertools.count[int] = field(default_factory=itertools.count)
    records: dict[str, Record] = field(default_factory=dict)  # row key -> current state
    index: dict[str, list[tuple[int, str]]] = field(default_factory=dict)  # domain -> (t, key)
    last_timepoint: int = 0
    next_session: int = 1
    last_answer_at: dict[str, float] = field(default_factory=dict)  # domain -> when

    # -- what happened at the provider -----------------------------------------

    def advance(self, now: float, knobs: Knobs) -> None:
        """Apply everything due at ``now``: newly registered rounds, visible rows."""
        bets = self.book.bets
        if len(bets) != self.adopted:
            for bet in itertools.islice(bets.values(), self.adopted, None):
                self._adopt(bet, knobs)
            self.adopted = len(bets)
        while self.changes and self.changes[0].visible_at <= now:
            self._publish(heapq.heappop(self.changes), now)

    def _adopt(self, bet: SimBet, knobs: Knobs) -> None:
        if split_ref(bet.bet_ref) is None or bet.fate is Fate.UNKNOWN or bet.fenced:
            return  # not a round of this provider, never seen by it, or refused at once
        self.played.add(bet.bet_ref)
        self.live[bet.bet_ref] = bet
        if bet.result_at is not None and bet.payout is not None:
            ended = max(bet.result_at, bet.known_from)
            self._schedule(self._record(bet, COMPLETED, bet.payout, _ms(ended)), ended, knobs)

    def _record(self, bet: SimBet, status: str, win: Decimal, ended_ms: int,
                session: int | None = None) -> Record:
        game, round_id = split_ref(bet.bet_ref) or ("", 0)
        placement = self.placements.get(bet.bet_ref, Placement())
        return Record(game, round_id if session is None else session,
                      None if session is None else round_id, bet.bet_ref, placement.domain,
                      placement.player, bet.stake, bet.currency,
                      _ms(bet.known_from - bet.lag), ended_ms, status, win)

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
        if known is not None and record.ended_ms < known.ended_ms:
            return  # an older state showing late never replaces a newer one
        self.last_timepoint = max(_ms(now), self.last_timepoint + 1)
        record.timepoint = self.last_timepoint
        self.records[record.key] = record
        self.index.setdefault(record.domain, []).append((record.timepoint, record.key))

    # -- the API ---------------------------------------------------------------

    def incomplete(self, player: str, now: float) -> list[dict[str, Any]]:
        rounds = []
        for ref, bet in list(self.live.items()):
            status = bet.status_at(now)
            if status in ("settled", "cancelled"):
                del self.live[ref]
                continue
            placement = self.placements.get(ref, Placement())
            if status != "pending" or placement.player not in (None, player):
                continue
            game, round_id = split_ref(ref) or ("", 0)
            rounds.append({"gameId": game, "roundId": round_id, "betAmount": float(bet.stake),
                           "currency": bet.currency,
                           "startDate": stamp(_ms(bet.known_from - bet.lag))})
        return rounds

    def cancel(self, player: str, ref: str, now: float, knobs: Knobs) -> int:
        """cancelRound: the book's cancel (200 / 409 / 404) in this provider's codes."""
        placement = self.placements.get(ref)
        if placement is not None and placement.player not in (None, player):
            return ROUND_NOT_FOUND  # another player's round: not one this player has
        status, _ = self.book.cancel(ref, now, knobs)
        if status == 409:
            return ROUND_COMPLETED
        if status != 200:
            return ROUND_NOT_FOUND
        bet = self.book.bets.get(ref)
        if bet is not None and ref in self.played and not bet.fenced and \
                ref not in self.cancelled:
            self.cancelled.add(ref)
            self._schedule(self._record(bet, CANCELLED, Decimal("0"), _ms(now)), now, knobs)
        return OK

    def feed(self, domain: str, timepoint: int) -> tuple[int, list[Record]]:
        index = self.index.get(domain, [])
        start = bisect.bisect_left(index, (timepoint, ""))
        rows = []
        for moment, key in itertools.islice(index, start, None):
            record = self.records[key]
            if record.timepoint == moment and record.domain == domain:
                rows.append(record)  # else superseded, listed at its own moment
        return (rows[-1].timepoint if rows else timepoint), rows

    # -- the controls ------------------------------------------------------------

    def alter_win(self, ref: str, win: Decimal, now: float, knobs: Knobs) -> Record | None:
        """The completed round re-finished now with another win (None: no such row)."""
        known = self.records.get(ref)
        if known is None or known.status != COMPLETED:
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

    def rows_of(self, ref: str) -> list[dict[str, Any]]:
        return [record.as_dict() for record in self.records.values() if record.bet_ref == ref]


class Provider:
    """The rounds of the simulator's current book (a reset replaces the book), kept due."""

    def __init__(self, state: SimState) -> None:
        self.state = state
        self._rounds: Rounds | None = None

    def due(self, book: BetBook, now: float, knobs: Knobs) -> Rounds:
        """The rounds, brought up to ``now``; called under the state's lock."""
        if self._rounds is None or self._rounds.book is not book:
            fresh = Rounds(book)
            if self._rounds is not None:
                fresh.last_timepoint = self._rounds.last_timepoint
                fresh.next_session = self._rounds.next_session
            self._rounds = fresh
        self._rounds.advance(now, knobs)
        return self._rounds

    def read(self, view: Callable[[Rounds, BetBook, float, Knobs], T]) -> T:
        """Run ``view`` on the due rounds under the state's lock."""
        return self.state.read(lambda book, now, knobs: view(self.due(book, now, knobs),
                                                             book, now, knobs))


# -- requests ------------------------------------------------------------------------------


class CallError(Exception):
    """A call refused: ``code`` is one of :data:`ERRORS`."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def parse_params(raw: bytes) -> dict[str, str]:
    """The url-encoded parameters, each once; raises :class:`CallError` (2)."""
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


def authenticate(params: dict[str, str], secret: str, login: str, login_key: str) -> None:
    """Raise :class:`CallError` unless the login is known and the hash proves the call."""
    if not params.get(login_key):
        raise CallError(BAD_PARAMETERS, f"{login_key}: required")
    if params[login_key] != login:
        raise CallError(UNKNOWN_LOGIN, f"{login_key}: not a known login")
    given = params.get("hash", "")
    if not given:
        raise CallError(BAD_PARAMETERS, "hash: required")
    if not hmac.compare_digest(request_hash(params, secret), given.lower()):
        raise CallError(INVALID_HASH, "hash: does not match the parameters")


def required(params: dict[str, str], *keys: str) -> None:
    missing = [key for key in keys if not params.get(key)]
    if missing:
        raise CallError(BAD_PARAMETERS, f"{', '.join(missing)}: required")


def player_of(params: dict[str, str]) -> str:
    required(params, "playerId")
    if not _PLAYER.fullmatch(params["playerId"]):
        raise CallError(BAD_PARAMETERS, "playerId: letters, digits and ._:@- only, at most 128")
    return params["playerId"]


def round_of(params: dict[str, str]) -> str:
    required(params, "gameId", "roundId")
    if not _GAME.fullmatch(params["gameId"]):
        raise CallError(BAD_PARAMETERS, "gameId: letters, digits and _ only, at most 64")
    ref = f"{params['gameId']}:{params['roundId']}"
    if not _ROUND.fullmatch(params["roundId"]) or split_ref(ref) is None:
        raise CallError(BAD_PARAMETERS, "roundId: a positive integer below 2^63, no leading 0")
    return ref


def timepoint_of(params: dict[str, str]) -> int:
    required(params, "timepoint", "dataType")
    if not _DIGITS.fullmatch(params["timepoint"]):
        raise CallError(BAD_PARAMETERS, "timepoint: milliseconds since the epoch")
    if params["dataType"] != DATA_TYPE:
        raise CallError(BAD_PARAMETERS, f"dataType: must be {DATA_TYPE}")
    return int(params["timepoint"])


def answer(code: int, message: str = "", **extra: Any) -> Response:
    """This provider's JSON envelope, always under HTTP 200."""
    said = ERRORS[code] if not message else f"{ERRORS[code]}: {message}"
    return jsonify({"error": code, "description": said, **extra})


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


def _served(state: SimState, refs: list[str], run: Outcome, *, csv_feed: bool = False) -> Response:
    """The answer with the simulator's faults: a 503 (nothing happened), a pause, an
    internal error (``error_with_200``), or a body that is no answer at all."""
    fault = state.next_provider_fault(refs)
    if fault is Fault.ERROR_503:
        return Response("service unavailable", status=503, mimetype="text/plain")
    if fault is Fault.ERROR_WITH_200:
        return answer(INTERNAL_ERROR, "simulated")
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


def _form(secret: str, login: str) -> dict[str, str]:
    """A signed form call's parameters; raises :class:`CallError`."""
    content_type = (request.content_type or "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise CallError(BAD_PARAMETERS, "Content-Type: must be application/x-www-form-urlencoded")
    params = parse_params(request.get_data())
    authenticate(params, secret, login, "secureLogin")
    return params


def add_routes(app: Flask, state: SimState, secret: str) -> None:
    """Add the API calls, the feeds of every domain, the controls and the hook that keeps
    the rounds due."""
    login = os.environ.get(SECURE_LOGIN_ENV) or DEFAULT_SECURE_LOGIN
    provider = Provider(state)

    @app.before_request
    def keep_the_rounds_due() -> None:
        state.read(provider.due)

    _add_api(app, provider, secret, login)
    _add_feeds(app, provider, secret, login)
    _add_controls(app, provider)


def _add_api(app: Flask, provider: Provider, secret: str, login: str) -> None:
    """getIncompleteRounds and cancelRound, on the API domain (the simulator's root)."""
    state = provider.state

    @app.post(INCOMPLETE_PATH)
    def get_incomplete_rounds() -> Response:
        if state.take_outage():
            return outage()
        try:
            player = player_of(_form(secret, login))
        except CallError as exc:
            return answer(exc.code, str(exc))
        state.count("status")
        return _served(state, [], lambda: answer(OK, data=provider.read(
            lambda rounds, _book, now, _knobs: rounds.incomplete(player, now))))

    @app.post(CANCEL_PATH)
    def cancel_round() -> Response:
        if state.take_outage():
            return outage()
        try:
            params = _form(secret, login)
            player, ref = player_of(params), round_of(params)
        except CallError as exc:
            return answer(exc.code, str(exc))
        state.count("cancel", [ref])
        return _served(state, [ref], lambda: answer(provider.read(
            lambda rounds, _book, now, knobs: rounds.cancel(player, ref, now, knobs))))


def _add_feeds(app: Flask, provider: Provider, secret: str, login: str) -> None:
    """The finished-rounds feed of the domain "main" (the root) and of any other domain
    (``/d/<domain>``)."""
    state = provider.state

    def finished(domain: str) -> Response:
        if state.take_outage():
            return outage()
        if not _DOMAIN.fullmatch(domain):
            return answer(BAD_PARAMETERS, "domain: a-z, digits and - only, at most 32")
        try:
            params = parse_params(request.query_string)
            authenticate(params, secret, login, "login")
            timepoint = timepoint_of(params)
        except CallError as exc:
            return answer(exc.code, str(exc))
        return _served(state, [], lambda: provider.read(
            lambda rounds, _book, now, knobs: _feed(rounds, domain, timepoint, now, knobs)),
            csv_feed=True)

    @app.get(FEED_PATH)
    def finished_main() -> Response:
        return finished(MAIN)

    @app.get(f"/d/<domain>{FEED_PATH}")
    def finished_elsewhere(domain: str) -> Response:
        return finished(domain)


def _feed(rounds: Rounds, domain: str, timepoint: int, now: float, knobs: Knobs) -> Response:
    last = rounds.last_answer_at.get(domain)
    if last is not None and now - last < knobs.feed_min_interval:
        return answer(TOO_MANY_REQUESTS, (
            f"domain {domain} called {now - last:.2f} s after its previous call, wait at "
            f"least {knobs.feed_min_interval:g} s between calls"))
    rounds.last_answer_at[domain] = now
    return csv_body(*rounds.feed(domain, timepoint))


# -- controls ------------------------------------------------------------------------------

Reply = tuple[int, dict[str, Any]]
NOT_A_ROUND: Reply = (404, {"error": "bet_ref: not a played round of this provider",
                            "field": "bet_ref"})


def parse_placement(body: dict[str, Any]) -> Placement:
    player, domain = body.get("player_id"), body.get("domain", MAIN)
    if player is not None and (not isinstance(player, str) or not _PLAYER.fullmatch(player)):
        raise InputError("player_id", "letters, digits and ._:@- only, at most 128")
    if not isinstance(domain, str) or not _DOMAIN.fullmatch(domain):
        raise InputError("domain", "a-z, digits and - only, at most 32")
    return Placement(player, domain)


def _register(body: dict[str, Any]) -> Callable[[Rounds, BetBook, float, Knobs], Reply]:
    spec, placement = parse_bet_spec(body), parse_placement(body)
    if split_ref(spec.bet_ref) is None:
        raise InputError("bet_ref", "must be <gameId>:<roundId> (e.g. vs20olympgate:8812345)")

    def register(rounds: Rounds, book: BetBook, now: float, knobs: Knobs) -> Reply:
        known = spec.bet_ref in book.bets
        if not known:
            rounds.placements[spec.bet_ref] = placement
        created, decision = book.register(spec, now, knobs)
        kept = rounds.placements.get(spec.bet_ref, Placement())
        return (201 if created else 200), {**decision, "player_id": kept.player,
                                           "domain": kept.domain}

    return register


def _win_given(field_name: str = "win") -> Decimal | None:
    body = require_object(request.get_json(silent=True) or {})
    return None if body.get(field_name) is None else amount(body, field_name, positive=False)


def _alter(ref: str, win: Decimal) -> Callable[[Rounds, BetBook, float, Knobs], Reply]:
    def alter(rounds: Rounds, _book: BetBook, now: float, knobs: Knobs) -> Reply:
        altered = rounds.alter_win(ref, win, now, knobs)
        if altered is None:
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
        return 200, {"bet_ref": ref, "player_id": placement.player, "domain": placement.domain,
                     "status_now": None if bet is None else bet.status_at(now),
                     "rows": rounds.rows_of(ref),
                     "hidden": sum(1 for change in rounds.changes
                                   if change.record.bet_ref == ref),
                     "now": iso(now)}

    return describe


def _reply(found: Reply) -> tuple[Response, int]:
    status, payload = found
    return jsonify(payload), status


def _refused(exc: InputError) -> tuple[Response, int]:
    return jsonify({"error": str(exc), "field": exc.field}), 400


def _add_controls(app: Flask, provider: Provider) -> None:
    """Unsigned controls: register a round with its player and domain, shape its rows."""

    @app.post("/_sim/pragmatic/rounds")
    def register_round() -> tuple[Response, int]:
        """A bet spec (as ``POST /_sim/bets``) with ``player_id`` and ``domain``."""
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
        """The round's player, domain and rows as the feed lists them, and rows hidden."""
        return _reply(provider.read(_describe(ref)))

