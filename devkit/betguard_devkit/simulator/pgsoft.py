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

The rounds and their records are ``betguard_devkit.simulator.pgsoft_feed``; reading and
answering a call, ``betguard_devkit.simulator.pgsoft_requests``; this module has the
routes and the controls.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

from flask import Flask, Response, jsonify, request

from betguard_devkit.simulator import wire
from betguard_devkit.simulator.book import BetBook
from betguard_devkit.simulator.inputs import Fault, InputError, amount, require_object
from betguard_devkit.simulator.knobs import Knobs
from betguard_devkit.simulator.pgsoft_feed import Feed, Feeds
from betguard_devkit.simulator.pgsoft_requests import (
    FORM_KEYS,
    INTERNAL_ERROR,
    WINDOW_KEYS,
    FeedError,
    Query,
    answer,
    authenticate,
    parse_form,
    parse_query,
    parse_window,
    trace_id_of,
)
from betguard_devkit.simulator.records import iso
from betguard_devkit.simulator.state import SimState

Q = TypeVar("Q")

PATH = "/Bet/v4/GetHistory"

WINDOW_PATH = "/Bet/v4/GetHistoryForSpecificTimeRange"

OPERATOR_TOKEN_ENV = "SIMULATOR_PGSOFT_OPERATOR_TOKEN"  # noqa: S105 - a variable name

HASH_SALT_ENV = "SIMULATOR_PGSOFT_HASH_SALT"

DEFAULT_OPERATOR_TOKEN = "test-operator"  # noqa: S105 - the test stack's operator


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
        return served(FORM_KEYS, parse_query, _history)

    @app.post(WINDOW_PATH)
    def get_history_for_time_range() -> Response:
        return served(WINDOW_KEYS, parse_window,
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
