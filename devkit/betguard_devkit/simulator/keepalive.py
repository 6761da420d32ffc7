"""Connections kept open between requests, as a provider's HTTP/1.1 server keeps them.

Werkzeug's development server closes the connection after every response, because
``http.server`` cannot skip a request body the application left unread before the next
request line. Against it every provider call opened a new connection and the simulator
a new thread: on the benchmark's two cores that was a tenth of the simulator's CPU and
of the worker's HTTP call, costs no provider in production puts on betguard.

:class:`KeepAlive` (around the application) reads each request's declared body first,
so none is ever left unread, and marks a response that may keep its connection: one
of declared length whose application asked nothing about the connection (the
simulator's faults that close it, or send no length, still close it).
:class:`KeepAliveHandler` then leaves out the ``Connection: close`` werkzeug adds to
that response only, and keeps werkzeug from reading the next request as the
unread rest of the last one's body.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from werkzeug.serving import WSGIRequestHandler

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

KEEP_OPEN = "betguard_devkit.keep_open"  # the response may keep its connection
READ_AHEAD = "betguard_devkit.read_ahead"  # the request's body was read ahead, whole
MAX_BODY_BYTES = 8 * 1024 * 1024  # a larger body is read by the application, then closed


class KeepAlive:
    """The application, with its requests' bodies read ahead and the responses that may
    keep their connection marked."""

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app

    def __call__(self, environ: WSGIEnvironment,
                 start_response: StartResponse) -> Iterable[bytes]:
        drained = environ[READ_AHEAD] = _read_ahead(environ)

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            names = {name.lower() for name, _ in headers}
            environ[KEEP_OPEN] = drained and "content-length" in names \
                and "connection" not in names
            return start_response(status, headers, exc_info)

        return self.app(environ, start)


def _read_ahead(environ: WSGIEnvironment) -> bool:
    """Read the request's whole declared body into memory; False when it cannot be (a
    chunked or oversized body, or a client that hung up before sending all of it)."""
    if environ.get("wsgi.input_terminated"):
        return False
    declared = environ.get("CONTENT_LENGTH") or "0"
    if not declared.isdigit() or int(declared) > MAX_BODY_BYTES:
        return False
    length = int(declared)
    if length == 0:
        return True
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    return len(body) == length


class KeepAliveHandler(WSGIRequestHandler):
    """Werkzeug's handler, without its ``Connection: close`` on a marked response, and
    without its search for a body left unread when the body was read ahead."""

    # Werkzeug writes a response's headers and its body in two sends: on a connection
    # kept open, Nagle's algorithm held the body back until the client's delayed
    # acknowledgement of the headers, some 40 ms an answer (a closed connection flushed it).
    disable_nagle_algorithm = True

    def setup(self) -> None:
        super().setup()
        self.rfile = _Connection(self.rfile, self)  # type: ignore[assignment]

    def send_header(self, keyword: str, value: str) -> None:
        environ = getattr(self, "environ", None)
        if keyword.lower() == "connection" and environ is not None \
                and environ.pop(KEEP_OPEN, False):
            return  # werkzeug's own: the application sent none for this response
        super().send_header(keyword, value)


class _Connection:
    """The handler's reading side. After a response werkzeug reads whatever the client
    sent meanwhile, as a body the application left unread; with the body read ahead
    that is the next request, so for such a request ``read`` finds nothing. Request
    lines and headers are read with ``readline``, untouched."""

    def __init__(self, raw: Any, handler: KeepAliveHandler) -> None:
        self._raw = raw
        self._handler = handler

    def read(self, size: int = -1) -> bytes:
        environ = getattr(self._handler, "environ", None)
        if environ is not None and environ.get(READ_AHEAD):
            return b""
        return bytes(self._raw.read(size))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)
