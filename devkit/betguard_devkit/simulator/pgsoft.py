"""The simulator's PG Soft-like provider: no status call, no cancel, only a bet history.

Modelled on PG Soft's ``GetHistory``: one call, ``POST /Bet/v4/GetHistory``, with a
form-encoded body (``operator_token``, ``secret_key``, ``bet_type=1``, ``row_version``,
``count``) and HMAC headers::

    x-date: <unix seconds>
    Authorization: PWS-HMAC-SHA256 Credential=<operator_token>, Signature=<hex>
    Signature = hex(HMAC-SHA256(secret, "POST\\n<path>\\n<x-date>\\n<sha256 hex of the body>"))

Every answer the provider gives is HTTP 200 with ``{"data": [...] | null, "error": null |
{"code": "...", "message": "..."}}``; only an outage (or an injected 503) is another
status. The error codes (:data:`ERRORS`):

* ``1034`` invalid request: a parameter is missing, malformed or out of range;
* ``1204`` invalid operator: unknown ``operator_token`` or wrong ``secret_key``;
* ``1301`` invalid signature: the HMAC headers are missing, malformed, stale or wrong;
* ``1200`` internal error: try again later;
* ``3021`` too many requests: called sooner than ``feed_min_interval`` after the last
  answered call (refused calls do not count, so a client that waits gets through).

The feed. Bets registered (``POST /_sim/bets``) with a canonical decimal ``bet_ref``
below 2^63 are this provider's rounds (``parentBetId``); other refs, and bets of fate
"unknown", never appear. A round's record (``betId``: 2^60 plus a sequence, beyond
what a float holds exactly) shows a while after each state change (knob
``feed_lag_range``, drawn per change): "running" once the provider knows the bet,
"completed" with its ``winAmount`` once it has a result, "refunded" when the provider
resolved a bet that stayed pending ``self_resolve_after`` seconds itself. Each change
that shows gets a new ``rowVersion`` (ms, strictly increasing: always above any version
handed out before, so a client's cursor never skips a change, and no two records share
one, so a page always progresses). A page lists the records whose current version is
at or above ``row_version`` (inclusive: the boundary record comes again), by version,
at most ``count``. A state that shows late never replaces a newer one.

A self-resolution is recorded in the book (``cancelled``: the bet never settles, and
``/_sim/truth`` shows it cancelled, not fenced). PG has no cancel API, so nothing
else is ever cancelled or fenced. Nothing in the book runs on a timer: the changes due
are applied before every request the simulator serves (controls included).

Unsigned controls for reconciliation tests (``/_sim/pgsoft/...``): alter a settled
round's payout (a new version of its record with another ``winAmount``; the book's
decided payout stays), add a duplicate record (a second ``betId`` for the round,
completed), and read a round's records. A round betguard never heard of is simply a
bet registered here and never placed with betguard.
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

PATH = "/Bet/v4/GetHistory"
OPERATOR_TOKEN_ENV = "SIMULATOR_PGSOFT_OPERATOR_TOKEN"  # noqa: S105 - a variable name
DEFAULT_OPERATOR_TOKEN = "test-operator"  # noqa: S105 - the test stack's operator
MIN_COUNT, MAX_COUNT = 1500, 5000
MAX_SKEW_SECONDS = 300
BET_ID_BASE = 2**60  # betIds above 2^53: a client that reads them as floats loses digits
GAME_ID = 1543462
PLAYER = "sim-player"

INVALID_REQUEST = "1034"
INVALID_OPERATOR = "1204"
INVALID_SIGNATURE = "1301"
INTERNAL_ERROR = "1200"
TOO_MANY_REQUESTS = "3021"
ERRORS = {
    INVALID_REQUEST: "invalid request",
    INVALID_OPERATOR: "invalid operator",
    INVALID_SIGNATURE: "invalid signature",
    INTERNAL_ERROR: "internal error, try again later",
    TOO_MANY_REQUESTS: "too many requests, try again later",
}

RUNNING, COMPLETED, REFUNDED = "running", "completed", "refunded"
_ROUND = re.compile(r"[1-9][0-9]{0,18}")
_AUTHORIZATION = re.compile(
    r"PWS-HMAC-SHA256 Credential=([A-Za-z0-9._:-]{1,128}), Signature=([0-9a-f]{64})")
_DIGITS = re.compile(r"[0-9]{1,19}")
_FORM_KEYS = ("operator_token", "secret_key", "bet_type", "row_version", "count")


def round_id(bet_ref: str) -> int | None:
    """The round id a ref stands for, if it is one of this provider's (canonical decimal
    digits below 2^63: ``str(int(ref)) == ref``)."""
    if not _ROUND.fullmatch(bet_ref):
        return None
    value = int(bet_ref)
    return value if value < 2**63 else None


def signature(secret: str, method: str, path: str, x_date: str, body: bytes) -> str:
    """The request signature as this provider computes it."""
    message = "\n".join([method, path, x_date, hashlib.sha256(body).hexdigest()])
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def check_signature(secret: str, headers: dict[str, str], *, method: str, path: str,
                    body: bytes, operator_token: str, now: float) -> str | None:
    """What is wrong with a request's HMAC headers, or None when they prove it."""
    lowered = {key.lower(): value for key, value in headers.items()}
    x_date = lowered.get("x-date", "")
    if not re.fullmatch(r"[0-9]{1,12}", x_date):
        return "x-date: missing or not unix seconds"
    if abs(now - int(x_date)) > MAX_SKEW_SECONDS:
        return f"x-date: {int(now - int(x_date))} s from now (at most {MAX_SKEW_SECONDS})"
    found = _AUTHORIZATION.fullmatch(lowered.get("authorization", ""))
    if found is None:
        return "Authorization: missing or not 'PWS-HMAC-SHA256 Credential=..., Signature=...'"
    if found.group(1) != operator_token:
        return "Authorization: the credential is not the operator_token of the form"
    expected = signature(secret, method, path, x_date, body)
    if not hmac.compare_digest(expected, found.group(2)):
        return "Authorization: the signature does not match the request"
    return None


@dataclass
class Record:
    """One bet row at the provider, in the state the feed lists now."""

    bet_id: int
    bet_ref: str
    stake: Decimal
    currency: str
    placed_at: float
    status: str
    payout: Decimal
    ended_at: float | None
    at: float  # when this state happened at the provider (orders states)
    version: int = 0

    def row(self) -> dict[str, Any]:
        """The record as GetHistory words it (amounts as JSON numbers, ids as integers)."""
        return {
            "betId": self.bet_id,
            "parentBetId": int(self.bet_ref),
            "playerName": PLAYER,
            "gameId": GAME_ID,
            "betType": 1,
            "betAmount": _number(self.stake),
            "winAmount": _number(self.payout),
            "currency": self.currency,
            "betTime": _ms(self.placed_at),
            "betEndTime": None if self.ended_at is None else _ms(self.ended_at),
            "rowVersion": self.version,
            "betStatus": self.status,
        }


@dataclass(order=True)
class Change:
    """A state of a record, waiting until it shows in the feed (``visible_at``)."""

    visible_at: float
    seq: int
    bet_id: int = field(compare=False)
    bet_ref: str = field(compare=False)
    status: str = field(compare=False)
    at: float = field(compare=False)
    payout: Decimal = field(compare=False)
    ended_at: float | None = field(default=None, compare=False)  # None: ``at`` (or running)


@dataclass
class Feed:
    """The provider's history of one book. Counters carry over a reset of the book, so
    ids and versions never repeat and a client's cursor never skips a change."""

    book: BetBook
    next_id: int = 1
    last_version: int = 0
    adopted: int = 0  # bets of the book looked at so far (the book only grows)
    bet_ids: dict[str, int] = field(default_factory=dict)  # round ref -> its record
    watched: dict[str, SimBet] = field(default_factory=dict)  # may still self-resolve
    resolved: dict[str, float] = field(default_factory=dict)  # ref -> when
    changes: list[Change] = field(default_factory=list)  # heap by visible_at
    seq: itertools.count[int] = field(default_factory=itertools.count)
    records: dict[int, Record] = field(default_factory=dict)
    index: list[tuple[int, int]] = field(default_factory=list)  # (version, bet_id) ascending
    last_answer_at: float | None = None

    # -- what happened at the provider -----------------------------------------

    def advance(self, now: float, knobs: Knobs) -> None:
        """Apply everything due at ``now``: new bets, self-resolutions, visible changes."""
        self._adopt(knobs)
        self._self_resolve(now, knobs)
        self._publish(now)

    def _adopt(self, knobs: Knobs) -> None:
        bets = self.book.bets
        if len(bets) == self.adopted:
            return
        for bet in itertools.islice(bets.values(), self.adopted, None):
            self._adopt_one(bet, knobs)
        self.adopted = len(bets)

    def _adopt_one(self, bet: SimBet, knobs: Knobs) -> None:
        if round_id(bet.bet_ref) is None or bet.fate is Fate.UNKNOWN or bet.cancelled:
            return  # not this provider's round, never seen by it, or refused at once
        bet_id = self.bet_ids[bet.bet_ref] = self._new_id()
        known = bet.known_from
        if bet.result_at is None or bet.result_at > known:
            self._schedule(bet_id, bet, RUNNING, known, Decimal("0"), knobs)
            self.watched[bet.bet_ref] = bet
        if bet.result_at is not None and bet.payout is not None:
            self._schedule(bet_id, bet, COMPLETED, max(bet.result_at, known), bet.payout, knobs)

    def _self_resolve(self, now: float, knobs: Knobs) -> None:
        """Refund the bets that stayed pending ``self_resolve_after`` s past their placing."""
        after = knobs.self_resolve_after
        if after <= 0:
            return
        for ref, bet in list(self.watched.items()):
            if bet.result_at is not None and now >= bet.result_at:
                del self.watched[ref]  # settled: nothing left to resolve
                continue
            deadline = max(_placed(bet) + after, bet.known_from)
            if now < deadline or (bet.result_at is not None and bet.result_at <= deadline):
                continue
            del self.watched[ref]
            bet.cancelled = True  # the book's truth: cancelled, never settled
            self.resolved[ref] = deadline
            self._schedule(self.bet_ids[ref], bet, REFUNDED, deadline, Decimal("0"), knobs)

    def _publish(self, now: float) -> None:
        while self.changes and self.changes[0].visible_at <= now:
            change = heapq.heappop(self.changes)
            record = self.records.get(change.bet_id)
            if record is not None and change.at < record.at:
                continue  # an older state showing late never replaces a newer one
            if change.status == COMPLETED and change.bet_ref in self.resolved and \
                    self.bet_ids.get(change.bet_ref) == change.bet_id:
                continue  # the provider refunded the round before its result came
            self.last_version = max(_ms(change.visible_at), self.last_version + 1)
            self.records[change.bet_id] = self._recorded(change)
            self.index.append((self.last_version, change.bet_id))

    def _recorded(self, change: Change) -> Record:
        bet = self.book.bets[change.bet_ref]
        ended = None if change.status == RUNNING else (
            change.at if change.ended_at is None else change.ended_at)
        return Record(change.bet_id, change.bet_ref, bet.stake, bet.currency, _placed(bet),
                      change.status, change.payout, ended, change.at, self.last_version)

    def _schedule(self, bet_id: int, bet: SimBet, status: str, at: float, payout: Decimal,
                  knobs: Knobs, ended_at: float | None = None) -> None:
        lag = _draw(self.book, knobs.feed_lag_range)
        heapq.heappush(self.changes, Change(at + lag, next(self.seq), bet_id, bet.bet_ref,
                                            status, at, payout, ended_at))

    def _new_id(self) -> int:
        bet_id = BET_ID_BASE + self.next_id
        self.next_id += 1
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

    def alter_payout(self, bet: SimBet, payout: Decimal, now: float, knobs: Knobs) -> int:
        """A new state of a settled round's record, paying ``payout`` (its end time stays
        the round's)."""
        bet_id = self.bet_ids[bet.bet_ref]
        self._schedule(bet_id, bet, COMPLETED, now, payout, knobs, _ended(bet))
        return bet_id

    def duplicate(self, bet: SimBet, payout: Decimal, now: float, knobs: Knobs) -> int:
        """A second, completed record for the same round."""
        bet_id = self._new_id()
        self._schedule(bet_id, bet, COMPLETED, now, payout, knobs, _ended(bet))
        return bet_id

    def round_records(self, bet_ref: str) -> list[dict[str, Any]]:
        return [record.row() for record in self.records.values() if record.bet_ref == bet_ref]


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


def parse_form(body: bytes, content_type: str) -> dict[str, str]:
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
    missing = [key for key in _FORM_KEYS if not form.get(key)]
    if missing:
        raise FeedError(INVALID_REQUEST, f"{', '.join(missing)}: required")
    return form


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


def authenticate(form: dict[str, str], body: bytes, secret: str, operator_token: str) -> None:
    """Raise :class:`FeedError` unless the operator, its secret key and the HMAC check out."""
    if form["operator_token"] != operator_token or not hmac.compare_digest(
            form["secret_key"].encode(), secret.encode()):
        raise FeedError(INVALID_OPERATOR, "unknown operator_token or wrong secret_key")
    problem = check_signature(secret, wire.headers(), method=request.method,
                              path=wire.request_target().split("?")[0], body=body,
                              operator_token=operator_token, now=time.time())
    if problem is not None:
        raise FeedError(INVALID_SIGNATURE, problem)


def answer(data: list[dict[str, Any]] | None, code: str | None = None,
           message: str = "") -> Response:
    """GetHistory's envelope, always under HTTP 200."""
    error = None if code is None else {"code": code, "message": f"{ERRORS[code]}: {message}"}
    return jsonify({"data": data, "error": error})


def add_routes(app: Flask, state: SimState, secret: str) -> None:
    """Add GetHistory, the ``/_sim/pgsoft`` controls and the hook that keeps the feed due."""
    operator_token = os.environ.get(OPERATOR_TOKEN_ENV) or DEFAULT_OPERATOR_TOKEN
    feeds = Feeds(state)

    @app.before_request
    def keep_the_feed_due() -> None:
        state.read(feeds.due)

    @app.post(PATH)
    def get_history() -> Response:
        if state.take_outage():
            return Response("provider outage", status=503, mimetype="text/plain")
        body = request.get_data()
        try:
            form = parse_form(body, request.content_type or "")
            authenticate(form, body, secret, operator_token)
            query = parse_query(form)
        except FeedError as exc:
            return answer(None, exc.code, str(exc))
        return _served(state, lambda: feeds.read(
            lambda feed, _book, now, knobs: _history(feed, query, now, knobs)))

    _add_controls(app, feeds)


Outcome = tuple[list[dict[str, Any]] | None, str | None, str]


def _history(feed: Feed, query: Query, now: float, knobs: Knobs) -> Outcome:
    last = feed.last_answer_at
    if last is not None and now - last < knobs.feed_min_interval:
        return None, TOO_MANY_REQUESTS, (
            f"called too often: {now - last:.2f} s after the previous call, "
            f"wait at least {knobs.feed_min_interval:g} s between calls")
    feed.last_answer_at = now
    return feed.page(query.row_version, query.count), None, ""


def _served(state: SimState, read: Callable[[], Outcome]) -> Response:
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
        return Response(b'{"data": [{"betId": "not a number"}], "error": null}',
                        status=200, mimetype="application/json")
    return answer(data, code, message)


Reply = tuple[int, dict[str, Any]]
NOT_A_ROUND: Reply = (404, {"error": "bet_ref: not a round of this provider", "field": "bet_ref"})


def _payout_given() -> Decimal | None:
    """The control's optional ``payout`` (a decimal string); raises :class:`InputError`."""
    body = require_object(request.get_json(silent=True) or {})
    return None if body.get("payout") is None else amount(body, "payout", positive=False)


def _alter(ref: str, payout: Decimal) -> Callable[[Feed, BetBook, float, Knobs], Reply]:
    def alter(feed: Feed, book: BetBook, now: float, knobs: Knobs) -> Reply:
        bet = book.bets.get(ref)
        if bet is None or ref not in feed.bet_ids:
            return NOT_A_ROUND
        status = bet.status_at(now)
        if status != "settled":
            return 409, {"error": f"bet_ref: the round is {status}, not settled",
                         "field": "bet_ref"}
        bet_id = feed.alter_payout(bet, payout, now, knobs)
        return 200, {"bet_ref": ref, "bet_id": bet_id, "payout": f"{payout:.2f}"}

    return alter


def _duplicate(ref: str, payout: Decimal | None) -> Callable[[Feed, BetBook, float, Knobs], Reply]:
    def duplicate(feed: Feed, book: BetBook, now: float, knobs: Knobs) -> Reply:
        bet = book.bets.get(ref)
        if bet is None or ref not in feed.bet_ids:
            return NOT_A_ROUND
        paid = payout if payout is not None else (bet.payout or Decimal("0"))
        bet_id = feed.duplicate(bet, paid, now, knobs)
        return 201, {"bet_ref": ref, "bet_id": bet_id, "payout": f"{paid:.2f}"}

    return duplicate


def _round(ref: str) -> Callable[[Feed, BetBook, float, Knobs], Reply]:
    def describe(feed: Feed, _book: BetBook, _now: float, _knobs: Knobs) -> Reply:
        return 200, {"bet_ref": ref, "bet_id": feed.bet_ids.get(ref),
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
