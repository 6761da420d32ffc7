"""Refuse request bodies over the limit with 413 before anything parses them.

A declared ``Content-Length`` over the limit is refused without buffering; otherwise
the body is read here, counting the bytes as they stream in (a chunked body declares
no length), and handed on only when it fits. So no handler, and no JSON parser, ever
holds more than the limit.

A refused body is still read to its end, and thrown away, up to :data:`DRAIN_BYTES`
and :data:`DRAIN_SECONDS`: a server that answers and closes while the client is
still sending resets the connection, and the client sees a broken pipe (or loses
the answer) instead of the 413. Past that bound, or when the client asked
``Expect: 100-continue`` and so has not sent the body, the 413 goes out at once with
``Connection: close``.
"""

from __future__ import annotations

import json

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DRAIN_BYTES = 16 * 1024 * 1024  # what a refused upload may still cost us to read
DRAIN_SECONDS = 10.0  # and how long


class BodyTooLarge(Exception):
    """Raised when a streamed body passes the limit."""

    def __init__(self, more_body: bool) -> None:
        super().__init__("request body over the limit")
        self.more_body = more_body


class BodyLimit:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope)
        if declared is not None and declared > self.max_bytes:
            waits = _header(scope, b"expect") == b"100-continue"
            drained = not waits and declared <= DRAIN_BYTES and await _drain(receive, True)
            await self._refuse(send, keep_alive=drained)
            return
        try:
            body = await self._read(receive)
        except BodyTooLarge as exc:
            await self._refuse(send, keep_alive=await _drain(receive, exc.more_body))
            return
        if body is None:
            return  # the client went away while sending
        await self.app(scope, _replay(body, receive), send)

    async def _read(self, receive: Receive) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                raise BodyTooLarge(message.get("more_body", False))
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _refuse(self, send: Send, *, keep_alive: bool) -> None:
        """413; closing the connection unless the whole body was read (the next request
        on it would otherwise start in the middle of this one's body)."""
        body = json.dumps({"error": f"request body over {self.max_bytes} bytes"}).encode()
        headers = [(b"content-type", b"application/json"),
                   (b"content-length", str(len(body)).encode())]
        if not keep_alive:
            headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


async def _drain(receive: Receive, more_body: bool) -> bool:
    """Read and discard the rest of the body; whether it ended within the bound."""
    budget = DRAIN_BYTES
    with anyio.move_on_after(DRAIN_SECONDS):
        while more_body:
            message = await receive()
            if message["type"] != "http.request":
                return False  # the client went away: nobody reads the answer
            budget -= len(message.get("body", b""))
            if budget < 0:
                return False
            more_body = message.get("more_body", False)
        return True
    return False


def _header(scope: Scope, wanted: bytes) -> bytes | None:
    for name, value in scope.get("headers", ()):
        if name == wanted:
            return bytes(value).lower()
    return None


def _declared_length(scope: Scope) -> int | None:
    value = _header(scope, b"content-length")
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None  # the server refuses a malformed length before we see it


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that yields the buffered body once, then listens for disconnects."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
