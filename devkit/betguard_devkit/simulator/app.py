"""The simulator's HTTP face: provider contract, wallet refunds, and test controls.

The wallet pays each bet's stake back once per (provider, bet_ref), whoever asks:
betguard (``POST /refunds``) or the provider pushing its own rollback (the control
``POST /_sim/rollback``); the second asker gets a signed 409 "already refunded".

Provider (``/bets...``) and wallet (``/refunds``) traffic is signed both ways,
exactly as a real counterpart would; ``/_sim/*`` and ``/healthz`` are unsigned
controls for tests and the demo. Faults are applied here, at the edge, so the
state keeps the plain truth of what the provider and the wallet did.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

from betguard.providers.signing import Exchange, SignatureError
from betguard_devkit.simulator import faults, wire
from betguard_devkit.simulator.game_server import add_game_server_routes
from betguard_devkit.simulator.inputs import (
    Fault,
    InputError,
    parse_bet_refs,
    parse_fault_request,
    parse_refund,
    parse_registration,
    parse_rollback,
    require_object,
)
from betguard_devkit.simulator.knobs import KnobError
from betguard_devkit.simulator.pauses import collector_pauses
from betguard_devkit.simulator.state import SimState

MAX_BODY_BYTES = 1024 * 1024
CONTROL_PREFIXES = ("/_sim/", "/healthz")

Reply = tuple[int, dict[str, Any]]


@dataclass(frozen=True)
class Call:
    """A parsed, authenticated request: the refs it concerns and what to do for it."""

    refs: list[str]
    act: Callable[[], Reply]


class SignedEndpoint:
    """Runs one signed request: outage, signature, parsing, faults, answer, signing."""

    def __init__(self, state: SimState, secret: str, *, wallet: bool) -> None:
        self.state = state
        self.secret = secret
        self.wallet = wallet

    def serve(self, prepare: Callable[[bytes], Call]) -> Response:
        if not self.wallet and self.state.take_outage():
            return self.render(503, {"error": "provider outage"}, wire.unverified())
        body = request.get_data()
        try:
            exchange = wire.verified(self.secret, body)
        except SignatureError as exc:
            self.state.count("unauthorized")
            # Signed for the id the request named (if well-formed), so the client can
            # tell our refusal from a forgery; it is no answer to any other request.
            return self.render(401, {"error": f"bad signature: {exc}"}, wire.unverified())
        try:
            call = prepare(body)
        except InputError as exc:
            return self.render(400, {"error": str(exc), "field": exc.field}, exchange)
        return self._answer(call, exchange)

    def _answer(self, call: Call, exchange: Exchange) -> Response:
        if self.wallet:
            fault = self.state.next_wallet_fault()
        else:
            fault = self.state.next_provider_fault(call.refs)
        # An injected 503 means nothing happened; any other fault spoils only the answer.
        status, payload = (
            (503, {"error": "service unavailable"}) if fault is Fault.ERROR_503 else call.act()
        )
        knobs = self.state.knobs
        pause = 0.0 if self.wallet else knobs.latency_ms / 1000.0
        if fault is Fault.TIMEOUT:
            pause += knobs.timeout_seconds
        if pause > 0:
            time.sleep(pause)
        other = (
            self.state.other_ref(subject(payload, call.refs)) if fault is Fault.OTHER_REF else ""
        )
        return self.render(status, payload, exchange, fault, other)

    def render(
        self,
        status: int,
        payload: dict[str, Any],
        exchange: Exchange | None,
        fault: Fault | None = None,
        other: str = "",
    ) -> Response:
        """The answer, signed for ``exchange`` (unsigned when there is none to sign for)."""
        data, mimetype = faults.encode(payload, fault, other)
        streamed = faults.stream(fault, data)
        answered = faults.status(fault, status)
        return Response(
            data if streamed is None else streamed,
            status=answered,
            mimetype=mimetype,
            headers=faults.headers(fault, self.secret, exchange, answered, data),
        )


def subject(payload: dict[str, Any], refs: list[str]) -> str:
    """The ref of the record an ``other_ref`` fault rewrites (the first bet of a batch)."""
    bets = payload.get("bets")
    record = bets[0] if isinstance(bets, list) and bets else payload
    ref = record.get("bet_ref") if isinstance(record, dict) else None
    return ref if isinstance(ref, str) else (refs[0] if refs else "")


def parse_json(body: bytes) -> dict[str, Any]:
    try:
        decoded = json.loads(body)
    except ValueError:
        raise InputError("body", "must be valid JSON") from None
    return require_object(decoded)


def create_app(
    state: SimState, provider_secret: str, wallet_secret: str, notify_secret: str | None = None,
    *, dialect: str = "generic",
) -> Flask:
    """Build the simulator's Flask app around ``state``; the provider speaks ``dialect``
    (the generic contract, or one of :mod:`betguard_devkit.simulator.dialects`)."""
    if not provider_secret or not wallet_secret:
        raise ValueError("both the provider and the wallet secret are required")
    app = Flask("betguard_devkit.simulator")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    _add_hooks(app, state)
    if dialect == "generic":
        _add_provider_routes(app, SignedEndpoint(state, provider_secret, wallet=False))
    else:
        from betguard_devkit.simulator.dialects import add_dialect_routes

        add_dialect_routes(dialect, app, state, provider_secret)
    _add_wallet_routes(app, SignedEndpoint(state, wallet_secret, wallet=True))
    _add_scenario_routes(app, state)
    _add_observation_routes(app, state)
    add_game_server_routes(app, notify_secret)
    collector_pauses()  # timed from the start
    return app


def _add_hooks(app: Flask, state: SimState) -> None:
    """Log provider and wallet traffic (not the controls) and answer errors in JSON."""

    @app.before_request
    def log_arrival() -> None:
        if not request.path.startswith(CONTROL_PREFIXES):
            g.log_entry = state.log_start(request.method, request.path)

    @app.after_request
    def log_answer(response: Response) -> Response:
        entry = g.pop("log_entry", None)
        if entry is not None:
            state.log_finish(entry, response.status_code)
        return response

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[Response, int]:
        return jsonify({"error": exc.description or exc.name}), exc.code or 500


def _add_provider_routes(app: Flask, endpoint: SignedEndpoint) -> None:
    state = endpoint.state

    def one(kind: str, ref: str, act: Callable[[str], Reply]) -> Call:
        state.count(kind, [ref])
        return Call([ref], lambda: act(ref))

    def batch(body: bytes) -> Call:
        refs = parse_bet_refs(parse_json(body))
        state.count("batch", refs)
        return Call(refs, lambda: state.statuses(refs))

    @app.get("/bets/<ref>")
    def bet_status(ref: str) -> Response:
        return endpoint.serve(lambda _body: one("status", ref, state.status))

    @app.post("/bets/status")
    def bets_status() -> Response:
        return endpoint.serve(batch)

    @app.post("/bets/<ref>/cancel")
    def bet_cancel(ref: str) -> Response:
        return endpoint.serve(lambda _body: one("cancel", ref, state.cancel))


def _add_wallet_routes(app: Flask, endpoint: SignedEndpoint) -> None:
    state = endpoint.state

    def refund(body: bytes) -> Call:
        data = parse_json(body)
        key = data.get("idempotency_key")
        state.count("refund")
        if isinstance(key, str) and key:
            state.count_refund_request(key)
        parsed = parse_refund(data)
        return Call([parsed.bet_ref], lambda: state.refund(parsed))

    @app.post("/refunds")
    def refunds() -> Response:
        return endpoint.serve(refund)


def bad_input(exc: InputError | KnobError) -> tuple[Response, int]:
    field = exc.field if isinstance(exc, InputError) else exc.key
    return jsonify({"error": str(exc), "field": field}), 400


def _add_scenario_routes(app: Flask, state: SimState) -> None:
    """Unsigned controls that shape a scenario: register bets, queue faults, tune knobs."""

    @app.post("/_sim/bets")
    def register() -> tuple[Response, int]:
        try:
            specs, many = parse_registration(request.get_json(silent=True))
        except InputError as exc:
            return bad_input(exc)
        results = state.register(specs)
        created = any(new for new, _ in results)
        decisions = [decision for _, decision in results]
        payload = {"bets": decisions} if many else decisions[0]
        return jsonify(payload), 201 if created else 200

    @app.post("/_sim/rollback")
    def rollback() -> tuple[Response, int]:
        """The provider pushes its own rollback of a bet into the wallet: the same ledger
        and the same rule as betguard's refunds (each bet's stake paid back once)."""
        try:
            parsed = parse_rollback(request.get_json(silent=True))
        except InputError as exc:
            return bad_input(exc)
        state.count_refund_request(parsed.idempotency_key)
        status, payload = state.refund(parsed)
        return jsonify(payload), status

    @app.post("/_sim/faults")
    def queue_fault() -> tuple[Response, int]:
        try:
            fault = parse_fault_request(request.get_json(silent=True))
        except InputError as exc:
            return bad_input(exc)
        queued = state.queue_fault(fault)
        target = fault.bet_ref if fault.bet_ref is not None else "wallet"
        return jsonify({"target": target, "fault": fault.fault.value, "queued": queued}), 201

    @app.get("/_sim/knobs")
    def get_knobs() -> Response:
        return jsonify(state.knobs.as_dict())

    @app.post("/_sim/knobs")
    def set_knobs() -> tuple[Response, int]:
        try:
            knobs = state.update_knobs(request.get_json(silent=True))
        except KnobError as exc:
            return bad_input(exc)
        return jsonify(knobs.as_dict()), 200


def _since(read: Callable[[float], dict[str, Any]]) -> tuple[Response, int]:
    """Answer ``read`` of the request's ``since`` (a number, 0 when left out)."""
    try:
        moment = float(request.args.get("since", "0"))
    except ValueError:
        return jsonify({"error": "since: must be a number", "field": "since"}), 400
    return jsonify(read(moment)), 200


def _add_observation_routes(app: Flask, state: SimState) -> None:
    """Unsigned controls that read (or wipe) what happened, and the health check."""

    @app.get("/_sim/truth")
    def truth() -> Response:
        return jsonify(state.truth())

    @app.get("/_sim/log")
    def log() -> tuple[Response, int]:
        return _since(lambda moment: {"requests": state.log_since(moment)})

    @app.get("/_sim/pauses")
    def pauses() -> tuple[Response, int]:
        """This process's garbage-collector pauses (see ``simulator.pauses``)."""
        return _since(lambda moment: {"pauses": collector_pauses().since(moment)})

    @app.post("/_sim/reset")
    def reset() -> Response:
        state.reset()
        return jsonify({"ok": True})

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify({"ok": True})
