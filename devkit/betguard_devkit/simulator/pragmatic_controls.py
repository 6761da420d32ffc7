"""The simulator's unsigned Pragmatic controls (``/_sim/pragmatic/...``): register a round
with its player, environment and data type, give a completed round another win, add a
duplicate row, read a round's rows, put any line into a feed, and force the next http
API call's code (docs: ``betguard_devkit.simulator.pragmatic``)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from flask import Flask, Response, jsonify, request

from betguard_devkit.simulator.book import BetBook
from betguard_devkit.simulator.inputs import InputError, amount, parse_bet_spec, require_object
from betguard_devkit.simulator.knobs import Knobs
from betguard_devkit.simulator.pragmatic_requests import PLAYER_PATTERN
from betguard_devkit.simulator.pragmatic_rounds import (
    DATA_TYPES,
    ENV_PATTERN,
    ERRORS,
    MAIN,
    RNG,
    Placement,
    Provider,
    Rounds,
    as_money,
    split_ref,
    stamp,
)
from betguard_devkit.simulator.records import iso

Reply = tuple[int, dict[str, Any]]
NOT_A_ROUND: Reply = (404, {"error": "bet_ref: not a played round of this provider",
                            "field": "bet_ref"})


def _environment(body: dict[str, Any]) -> str:
    environment = body.get("environment", MAIN)
    if not isinstance(environment, str) or not ENV_PATTERN.fullmatch(environment):
        raise InputError("environment", "letters, digits and ._- only, at most 64")
    return environment


def _data_type(body: dict[str, Any]) -> str:
    data_type = body.get("data_type", RNG)
    if data_type not in DATA_TYPES:
        raise InputError("data_type", f"one of {', '.join(DATA_TYPES)}")
    return str(data_type)


def parse_placement(body: dict[str, Any]) -> Placement:
    player, in_progress = body.get("player_id"), body.get("in_progress_row", False)
    if player is not None and (not isinstance(player, str) or not PLAYER_PATTERN.fullmatch(player)):
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
        return 200, {"bet_ref": ref, "row": altered.key, "win": as_money(win),
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
                     "parentSessionID": str(record.parent), "win": as_money(paid)}

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


def add_controls(app: Flask, provider: Provider) -> None:
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

