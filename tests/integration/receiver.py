"""A game server's notification endpoint for tests: a real HTTP server on loopback
that verifies each signature, can fail on purpose, and records what it accepted."""

from __future__ import annotations

import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from providers.signing import SignatureError, verify


class Receiver:
    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.lock = threading.Lock()
        self.accepted: list[dict[str, Any]] = []  # every delivery answered 200, in order
        self.refused = 0
        self.bad_signatures = 0
        self.fail_next = 0  # answer this many deliveries with 503
        self.down = False  # answer every delivery with 503
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/notifications"

    def start(self) -> Receiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def for_bet(self, bet_ref: str) -> list[dict[str, Any]]:
        with self.lock:
            return [n for n in self.accepted if n["bet_ref"] == bet_ref]

    def deliveries_per_event(self, bet_ref: str) -> Counter[str]:
        return Counter(n["event_id"] for n in self.for_bet(bet_ref))

    def _answer(self, headers: dict[str, str], body: bytes) -> int:
        try:
            verify(self.secret, headers, body)
        except SignatureError:
            with self.lock:
                self.bad_signatures += 1
            return 401
        with self.lock:
            if self.down or self.fail_next > 0:
                self.fail_next = max(0, self.fail_next - 1)
                self.refused += 1
                return 503
            self.accepted.append(json.loads(body))
        return 200

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status = receiver._answer(dict(self.headers.items()), body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        return Handler
