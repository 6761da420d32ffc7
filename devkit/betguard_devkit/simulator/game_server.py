"""The game server's notification endpoint, for the demo and drills: it checks each
signature and counts deliveries per event id, so a run can show every outcome was
told (and told how often)."""

from __future__ import annotations

import json
import threading
from collections import Counter
from typing import Any

from flask import Flask, Response, jsonify, request

from betguard.providers.signing import SignatureError
from betguard_devkit.simulator import wire


class NotificationLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._deliveries: Counter[str] = Counter()
        self._events: dict[str, dict[str, Any]] = {}
        self.bad_signatures = 0

    def record(self, payload: dict[str, Any]) -> None:
        event_id = str(payload.get("event_id"))
        with self._lock:
            self._deliveries[event_id] += 1
            self._events.setdefault(event_id, payload)

    def refuse(self) -> None:
        with self._lock:
            self.bad_signatures += 1

    def report(self) -> dict[str, Any]:
        with self._lock:
            return {
                "events": {e: {**p, "deliveries": self._deliveries[e]}
                           for e, p in self._events.items()},
                "bad_signatures": self.bad_signatures,
            }


def add_game_server_routes(app: Flask, secret: str | None) -> NotificationLog:
    log = NotificationLog()

    @app.post("/_sim/game-server/notifications")
    def notification() -> tuple[Response, int]:
        if secret is None:
            return jsonify({"error": "no notification secret configured"}), 404
        body = request.get_data()
        try:
            wire.verified(secret, body)
            payload = json.loads(body)
        except (SignatureError, ValueError) as exc:
            log.refuse()
            return jsonify({"error": str(exc)}), 401
        if not isinstance(payload, dict):
            return jsonify({"error": "expected a JSON object"}), 400
        log.record(payload)
        return jsonify({"ok": True}), 200

    @app.get("/_sim/game-server/notifications")
    def notifications() -> Response:
        return jsonify(log.report())

    return log
