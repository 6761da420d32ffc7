"""The simulator's side of the signing contract: what a request was, on the wire.

A signature binds the request target exactly as the client sent it, so it is read
from the raw request line (``RAW_URI``/``REQUEST_URI``, which Werkzeug's server and
gunicorn set), never from the decoded ``request.path``.
"""

from __future__ import annotations

from urllib.parse import quote

from flask import request

from betguard.providers.signing import Exchange, SignatureError, request_id_of, verify_request


def request_target() -> str:
    """The raw request target: the percent-encoded path and the query, as received."""
    environ = request.environ
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if isinstance(raw, str) and raw:
        return raw
    # Another WSGI server: rebuild it (the quoting may differ from the client's).
    path = quote(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""), safe="/")
    query = environ.get("QUERY_STRING", "")
    return f"{path}?{query}" if query else path


def headers() -> dict[str, str]:
    return dict(request.headers.items())


def verified(secret: str, body: bytes) -> Exchange:
    """The exchange of the current request; :class:`SignatureError` unless it is signed."""
    return verify_request(secret, headers(), method=request.method,
                          target=request_target(), body=body)


def unverified() -> Exchange | None:
    """The exchange to sign a refusal with, when the request names a well-formed id."""
    request_id = request_id_of(headers())
    if request_id is None:
        return None
    try:
        return Exchange(request_id, request.method, request_target()).check()
    except SignatureError:
        return None
