"""A man in the middle on loopback: forwards each request to the simulator, keeps every
signed answer it saw, and can hand the client a changed or replayed answer instead.

It holds no secret: whatever it sends was signed by the simulator, for some request.
Its answers close the connection, so a body without a usable length still ends.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

from betguard.providers.signing import REQUEST_ID_HEADER

FORWARD_TIMEOUT = 10.0
KEPT_HEADERS = ("Content-Type", "X-Betguard-Timestamp", "X-Betguard-Signature",
                REQUEST_ID_HEADER)


@dataclass(frozen=True)
class Seen:
    """One request that went through, and the answer it got (or is to get)."""

    method: str
    target: str
    request_id: str
    status: int
    headers: dict[str, str]
    body: bytes


# Given the answer just received and every earlier one, what the client gets instead.
Tamper = Callable[[Seen, list[Seen]], Seen]


@dataclass
class TamperProxy:
    upstream: str
    seen: list[Seen] = field(default_factory=list)
    tamper: Tamper | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Seen:
        sent = {k: v for k, v in headers.items() if k.lower() not in ("host", "content-length")}
        answer = requests.request(method, self.upstream + target, headers=sent, data=body,
                                  timeout=FORWARD_TIMEOUT, allow_redirects=False)
        kept = {name: answer.headers[name] for name in KEPT_HEADERS if name in answer.headers}
        request_id = next((v for k, v in headers.items() if k.lower() == REQUEST_ID_HEADER.lower()),
                          "")
        now = Seen(method, target, request_id, answer.status_code, kept, answer.content)
        with self.lock:
            earlier, tamper = list(self.seen), self.tamper
            self.seen.append(now)
        return now if tamper is None else tamper(now, earlier)


@contextmanager
def tamper_proxy(upstream: str) -> Iterator[tuple[TamperProxy, str]]:
    """A running proxy in front of ``upstream``, and the base URL to reach it."""
    proxy = TamperProxy(upstream)

    class Handler(BaseHTTPRequestHandler):
        def _forward(self) -> None:
            length = self.headers.get("Content-Length", "0")
            body = self.rfile.read(int(length) if length.isascii() and length.isdigit() else 0)
            answer = proxy.handle(self.command, self.path, dict(self.headers.items()), body)
            self.close_connection = True
            self.send_response(answer.status)
            headers = {"Content-Length": str(len(answer.body)), **answer.headers,
                       "Connection": "close"}
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(answer.body)

        do_GET = do_POST = _forward  # noqa: N815 - the http.server API

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="tamper-proxy", daemon=True)
    thread.start()
    try:
        yield proxy, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


# --- tampers -------------------------------------------------------------------------


def replay(pick: Callable[[Seen, list[Seen]], Seen], *, echo: bool = False) -> Tamper:
    """Hand over an earlier answer, headers and all; with ``echo`` its request id
    header is rewritten to the current request's (the header is no secret)."""

    def tamper(now: Seen, earlier: list[Seen]) -> Seen:
        captured = pick(now, earlier)
        if not echo:
            return captured
        return replace(captured, headers={**captured.headers, REQUEST_ID_HEADER: now.request_id})

    return tamper


def earliest(_now: Seen, earlier: list[Seen]) -> Seen:
    """The first answer the proxy saw, whatever it answered."""
    return earlier[0]


def about_another_target(now: Seen, earlier: list[Seen]) -> Seen:
    """The latest answer to the same method about another target (another bet)."""
    return next(s for s in reversed(earlier) if s.method == now.method and s.target != now.target)


def to_another_method(now: Seen, earlier: list[Seen]) -> Seen:
    """The latest answer to another method (a status query's answer for a cancel)."""
    return next(s for s in reversed(earlier) if s.method != now.method)


def to_an_earlier_request(now: Seen, earlier: list[Seen]) -> Seen:
    """The earliest answer to the very same method and target: an old answer."""
    return next(s for s in earlier if (s.method, s.target) == (now.method, now.target))


def with_status(status: int) -> Tamper:
    return lambda now, _earlier: replace(now, status=status)


def with_header(name: str, value: str | None) -> Tamper:
    """Set a header (None: drop it) on the genuine answer."""

    def tamper(now: Seen, _earlier: list[Seen]) -> Seen:
        headers = {k: v for k, v in now.headers.items() if k != name}
        return replace(now, headers=headers if value is None else {**headers, name: value})

    return tamper
