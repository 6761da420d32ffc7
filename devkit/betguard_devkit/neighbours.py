"""Providers that hold a caller without answering, on loopback: a dripping one and one
that never accepts the connection. Both count, at the provider's side, how many of the
caller's requests they hold at once.

:class:`DripProxy` forwards each request to a simulator and sends its answer back one
byte every ``seconds_per_byte`` -- the status line and headers too, so a client's read
timeout (which bounds each socket read) never fires. It holds a request from its first
byte until the answer's last byte is sent or the caller hangs up (it notices at once,
not at its next write), so :attr:`DripProxy.peak` is what the caller had open at once.

:class:`Unaccepting` is a listening socket that never calls ``accept()``, its accept
queue filled by connections of its own: the kernel drops every further SYN, so a
caller's connect times out, as with a host that is down or blackholed behind a
firewall. (A port nothing listens on answers at once with a reset: that is a provider
refusing, which costs the caller nothing; this one costs the connect timeout.)
"""

from __future__ import annotations

import contextlib
import select
import socket
import socketserver
import threading
from dataclasses import dataclass, field

import requests

FORWARD_TIMEOUT = 30.0
HEAD_LIMIT = 64 * 1024
KEPT_HEADERS = ("Content-Type", "X-Betguard-Timestamp", "X-Betguard-Signature",
                "X-Betguard-Request-Id")


@dataclass
class Held:
    """What a peer held of its callers: now, at most at once, and in all."""

    now: int = 0
    peak: int = 0
    total: int = 0
    hung_up: int = 0  # callers that closed the connection before the answer's end,
    hung_up_in_head: int = 0  # of them, before its status line and headers were all sent
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def enter(self) -> None:
        with self.lock:
            self.now += 1
            self.total += 1
            self.peak = max(self.peak, self.now)

    def leave(self, *, sent: int, head: int, whole: int) -> None:
        with self.lock:
            self.now -= 1
            self.hung_up += sent < whole
            self.hung_up_in_head += sent < head

    def reset(self) -> None:
        """Count afresh from now (what is held now stays held)."""
        with self.lock:
            self.peak, self.total, self.hung_up, self.hung_up_in_head = self.now, 0, 0, 0


def most_within(arrivals: list[float], window: float) -> int:
    """The most ``arrivals`` (moments, in any order) within any ``window`` seconds: how
    many requests a peer that holds each one ``window`` seconds held at once at most."""
    arrivals = sorted(arrivals)
    most, first = 0, 0
    for last, at in enumerate(arrivals):
        while at - arrivals[first] >= window:
            first += 1
        most = max(most, last - first + 1)
    return most


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024
    proxy: DripProxy


class _DripHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        proxy: DripProxy = self.server.proxy  # type: ignore[attr-defined]
        conn: socket.socket = self.request
        conn.settimeout(FORWARD_TIMEOUT)
        try:
            raw = _read_request(conn)
        except (OSError, ValueError):
            return
        if raw is None:
            return
        proxy.held.enter()
        sent, head, whole = 0, 1, 1
        try:
            answer = proxy.forward(*raw)
            head, whole = answer.index(b"\r\n\r\n") + 4, len(answer)
            sent = proxy.drip(conn, answer)
        finally:
            proxy.held.leave(sent=sent, head=head, whole=whole)


class DripProxy:
    """Answers as the simulator at ``upstream`` does, one byte every ``seconds_per_byte``."""

    def __init__(self, upstream: str, *, seconds_per_byte: float, port: int = 0) -> None:
        self.upstream = upstream.rstrip("/")
        self.seconds_per_byte = seconds_per_byte
        self.held = Held()
        self._server = _Server(("127.0.0.1", port), _DripHandler)
        self._server.proxy = self
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="drip-proxy")

    def start(self) -> DripProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def forward(self, method: str, target: str, headers: dict[str, str], body: bytes) -> bytes:
        """The simulator's whole answer, as the bytes it goes on the wire as."""
        sent = {k: v for k, v in headers.items() if k.lower() not in ("host", "content-length")}
        answer = requests.request(method, self.upstream + target, headers=sent, data=body,
                                  timeout=FORWARD_TIMEOUT, allow_redirects=False)
        lines = [f"HTTP/1.1 {answer.status_code} {answer.reason}"]
        lines += [f"{name}: {answer.headers[name]}" for name in KEPT_HEADERS
                  if name in answer.headers]
        lines += [f"Content-Length: {len(answer.content)}", "Connection: close", "", ""]
        return "\r\n".join(lines).encode("latin-1") + answer.content

    def drip(self, conn: socket.socket, data: bytes) -> int:
        """Send ``data`` a byte at a time; returns how many bytes went before the caller
        hung up (all of them if it did not)."""
        for index in range(len(data)):
            try:
                conn.sendall(data[index:index + 1])
            except OSError:
                return index
            if index + 1 < len(data) and _hung_up(conn, self.seconds_per_byte):
                return index + 1
        return len(data)


def _read_request(conn: socket.socket) -> tuple[str, str, dict[str, str], bytes] | None:
    """The request's method, target, headers and body (None: the caller left first)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk or len(data) > HEAD_LIMIT:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    request_line, *header_lines = head.decode("latin-1").split("\r\n")
    method, target, _ = request_line.split(" ", 2)
    headers = dict(line.split(": ", 1) for line in header_lines if ": " in line)
    length = int(next((v for k, v in headers.items() if k.lower() == "content-length"), "0"))
    while len(body) < length:
        chunk = conn.recv(length - len(body))
        if not chunk:
            return None
        body += chunk
    return method, target, headers, body


def _hung_up(conn: socket.socket, seconds: float) -> bool:
    """Wait ``seconds``; True as soon as the caller closes its end."""
    readable, _, _ = select.select([conn], [], [], seconds)
    if not readable:
        return False
    try:
        return conn.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


class Unaccepting:
    """A listening port whose accept queue is full and never drained (module doc)."""

    def __init__(self) -> None:
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(0)
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._fillers: list[socket.socket] = []
        self._fill()

    def _fill(self) -> None:
        """Connect to ourselves until a connection is no longer completed: the queue is
        full, and the kernel now drops every SYN that arrives."""
        for _ in range(64):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", self.port))
            self._fillers.append(filler)
            _, writable, _ = select.select([], [filler], [], 0.5)
            if not writable or filler.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                return
        raise RuntimeError("the accept queue never filled")

    def close(self) -> None:
        for sock in [*self._fillers, self._listener]:
            with contextlib.suppress(OSError):
                sock.close()
