"""A game server's notification endpoint for tests: a real HTTP server on loopback
that verifies each signature, can fail on purpose, and records what it accepted.

Besides failing politely (``fail_next``, ``down``: 503), it can be hostile to the
deliveries about one bet (:meth:`Receiver.be_hostile`): hang, redirect, stream
without end, hang up, answer garbage. Every hostile answer ends by itself within
:data:`HOSTILE_SECONDS`, or as soon as the client goes.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from betguard.providers.signing import SignatureError, verify_request

HANG_SECONDS = 6.5  # past the notifier's 5 s read timeout
HOSTILE_SECONDS = 30.0  # no hostile answer lasts longer
DRIP_SECONDS, DRIP_FOR_SECONDS = 0.3, 12.0  # long past the read timeout, short for a test run
REDIRECT_PATH = "/moved"


class Mode(StrEnum):
    """A hostile way to answer a delivery."""

    HANG = "hang"  # read the request, then say nothing past the client's read timeout
    ERROR_500 = "error_500"
    REDIRECT = "redirect"  # 302 to a path of ours that counts whoever follows it
    ENDLESS_500 = "endless_500"  # a 500 whose body never ends
    CLOSE = "close"  # hang up without answering
    GARBAGE_200 = "garbage_200"  # 200 with bytes that are no JSON (still a confirmation)
    UNAUTHORIZED = "unauthorized"  # 401, as if our signature were wrong
    NUL_500 = "nul_500"  # a 500 whose body is NUL bytes
    DRIP_500 = "drip_500"  # a 500 whose declared body comes a byte every 0.3 s


class Receiver:
    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.lock = threading.Lock()
        self.accepted: list[dict[str, Any]] = []  # every delivery answered 200, in order
        self.refused = 0
        self.bad_signatures = 0
        self.fail_next = 0  # answer this many deliveries with 503
        self.down = False  # answer every delivery with 503
        self.hostile: dict[str, tuple[Mode, int | None]] = {}  # by bet_ref: mode, times left
        self.hostile_answers: Counter[str] = Counter()  # by bet_ref
        self.followed_redirects = 0
        self.streams: dict[str, list[tuple[float, float | None]]] = {}  # by bet_ref: start, end
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"{self.base_url}/notifications"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> Receiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def be_hostile(self, bet_ref: str, mode: Mode, times: int | None = None) -> None:
        """Answer deliveries about ``bet_ref`` the ``mode`` way: ``times`` of them, or all."""
        with self.lock:
            self.hostile[bet_ref] = (mode, times)

    def calm(self) -> None:
        """Back to the normal mode for every bet (tests share the receiver)."""
        with self.lock:
            self.hostile.clear()
            self.down, self.fail_next = False, 0

    def for_bet(self, bet_ref: str) -> list[dict[str, Any]]:
        with self.lock:
            return [n for n in self.accepted if n.get("bet_ref") == bet_ref]

    def for_game(self, provider: str, game_id: str | None = None) -> list[dict[str, Any]]:
        """News about games (a pause, a resume: no bet_ref) of ``provider``, in order."""
        with self.lock:
            return [n for n in self.accepted if "bet_ref" not in n
                    and n.get("provider") == provider
                    and (game_id is None or n.get("game_id") == game_id)]

    def deliveries_per_event(self, bet_ref: str) -> Counter[str]:
        return Counter(n["event_id"] for n in self.for_bet(bet_ref))

    def stream_seconds(self, bet_ref: str) -> list[float]:
        """How long each hostile stream to ``bet_ref`` lasted (so far, if still running)."""
        now = time.monotonic()
        with self.lock:
            return [(end or now) - start for start, end in self.streams.get(bet_ref, [])]

    def _hostile_mode(self, body: bytes) -> tuple[str, Mode] | None:
        try:
            bet_ref = json.loads(body).get("bet_ref")
        except (ValueError, AttributeError):
            return None
        with self.lock:
            mode, times = self.hostile.get(bet_ref, (None, None))
            if mode is None:
                return None
            if times is not None:
                if times < 1:
                    return None
                self.hostile[bet_ref] = (mode, times - 1)
            self.hostile_answers[bet_ref] += 1
            return bet_ref, mode

    def _answer(self, headers: dict[str, str], target: str, body: bytes) -> int:
        try:
            verify_request(self.secret, headers, method="POST", target=target, body=body)
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
                if self.path == REDIRECT_PATH:
                    with receiver.lock:
                        receiver.followed_redirects += 1
                hostile = receiver._hostile_mode(body)
                if hostile is not None:
                    hostile_answer(self, hostile, receiver, body)
                    return
                status = receiver._answer(dict(self.headers.items()), self.path, body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        return Handler


def hostile_answer(handler: BaseHTTPRequestHandler, hostile: tuple[str, Mode],
                   receiver: Receiver, body: bytes) -> None:
    """Answer the ``mode`` way, timing how long the client stayed to listen."""
    bet_ref, mode = hostile
    handler.close_connection = True
    started = time.monotonic()
    with receiver.lock:
        streams = receiver.streams.setdefault(bet_ref, [])
        streams.append((started, None))
        index = len(streams) - 1
    with contextlib.suppress(OSError):  # the client went away, as a hostile answer wants
        _HOSTILE[mode](handler, receiver, body)
    with receiver.lock:
        streams[index] = (started, time.monotonic())


def _plain(handler: BaseHTTPRequestHandler, status: int, body: bytes,
           headers: dict[str, str] | None = None) -> None:
    handler.send_response(status)
    for name, value in {"Content-Length": str(len(body)), **(headers or {})}.items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(body)


def _hang(handler: BaseHTTPRequestHandler, _receiver: Receiver, _body: bytes) -> None:
    time.sleep(HANG_SECONDS)  # then hang up: nobody is listening any more


def _garbage(handler: BaseHTTPRequestHandler, receiver: Receiver, body: bytes) -> None:
    with receiver.lock:
        receiver.accepted.append(json.loads(body))
    _plain(handler, 200, b"\x00\xff<html>not json at all")


def _stream(handler: BaseHTTPRequestHandler, status: int, chunk: bytes, pause: float,
            declared: int | None = None, seconds: float = HOSTILE_SECONDS) -> None:
    handler.send_response(status)
    if declared is not None:
        handler.send_header("Content-Length", str(declared))
    handler.end_headers()
    ends = time.monotonic() + seconds
    while time.monotonic() < ends:
        handler.wfile.write(chunk)
        handler.wfile.flush()
        time.sleep(pause)


_HOSTILE: dict[Mode, Callable[[BaseHTTPRequestHandler, Receiver, bytes], None]] = {
    Mode.HANG: _hang,
    Mode.ERROR_500: lambda h, _r, _b: _plain(h, 500, b'{"error": "internal error"}'),
    Mode.REDIRECT: lambda h, r, _b: _plain(h, 302, b"", {"Location": r.base_url + REDIRECT_PATH}),
    Mode.ENDLESS_500: lambda h, _r, _b: _stream(h, 500, b"x" * 65536, 0.0),
    Mode.CLOSE: lambda _h, _r, _b: None,
    Mode.GARBAGE_200: _garbage,
    Mode.UNAUTHORIZED: lambda h, _r, _b: _plain(h, 401, b'{"error": "who are you?"}'),
    Mode.NUL_500: lambda h, _r, _b: _plain(h, 500, b"\x00" * 64 + b"error"),
    Mode.DRIP_500: lambda h, _r, _b: _stream(h, 500, b"x", DRIP_SECONDS, declared=1000,
                                             seconds=DRIP_FOR_SECONDS),
}
