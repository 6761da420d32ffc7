"""The HTTP transport every provider and wallet client shares.

* :func:`make_session`: a pooled ``requests.Session`` with no hidden retries, whose
  connections an attempt's deadline (:mod:`betguard.providers.deadline`) can shut down;
* :data:`TRANSPORT_ERRORS` and :func:`timed_out`: which failures of an attempt mean
  "no answer", and which of them took a whole timeout (never repeated at once: the
  other side may still hold the request);
* :func:`read_capped`: a body read as it arrives, up to a cap and no further.
"""

from __future__ import annotations

from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter

from betguard.providers.deadline import Attempt, watch_connections

# The largest body a client reads by default; more is an answer that cannot be trusted.
MAX_RESPONSE_BYTES = 1024 * 1024
_CHUNK_BYTES = 64 * 1024

# Transport failures worth another try: the request may not have arrived, or
# its answer was lost on the way back.
TRANSPORT_ERRORS = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
    # The body is read from the raw response: urllib3's own errors arrive unwrapped
    # (a connection cut mid-body, a read that timed out).
    urllib3.exceptions.HTTPError,
)

# Of them, the ones that took a whole timeout (connect or read; the body's reads arrive
# as urllib3's own).
TIMEOUTS = (requests.exceptions.Timeout, urllib3.exceptions.TimeoutError)

# Connections kept open per host: at least the provider worker's thread count, or the
# threads beyond it open (and close) a new connection for every call.
POOL_MAXSIZE = 128


def timed_out(error: BaseException, attempt: Attempt) -> str | None:
    """Why a transport ``error`` of ``attempt`` counts as a timeout (the attempt's
    deadline cut it, or a connect or read timeout passed); None: another failure."""
    if attempt.expired:
        return attempt.too_slow()
    if isinstance(error, TIMEOUTS):
        return f"{type(error).__name__}: {error}"
    return None


class _WatchedAdapter(HTTPAdapter):
    """requests' adapter whose connections an attempt's deadline can shut down."""

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False,
                         **pool_kwargs: Any) -> None:
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        watch_connections(self.poolmanager)


def make_session(*, pool_maxsize: int = POOL_MAXSIZE) -> requests.Session:
    """A session with a connection pool and no hidden retries (tenacity owns retrying),
    whose connections are shut down when an attempt's deadline passes
    (``betguard.providers.deadline``).

    It ignores the environment (proxy variables, .netrc): settings come from betguard's
    own configuration only, and scanning the environment on every request cost more
    CPU than the rest of the request.
    """
    session = requests.Session()
    session.trust_env = False
    adapter = _WatchedAdapter(pool_connections=4, pool_maxsize=pool_maxsize, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class BodyTooLarge(Exception):
    """A body longer than the reader's cap (declared or as sent): no answer to believe."""


def read_capped(raw: requests.Response, attempt: Attempt,
                cap: int = MAX_RESPONSE_BYTES) -> bytes:
    """The body of a streamed response, refusing more than ``cap`` bytes
    (:class:`BodyTooLarge`); the read stops once ``attempt`` has expired (its connection
    is shut down then: the read ends at once), and the caller knows by
    ``attempt.expired`` that the body may be cut short."""
    declared = raw.headers.get("Content-Length", "")
    # ASCII digits only, and few of them: int() of thousands of digits raises ValueError.
    if declared.isascii() and declared.isdigit() and (len(declared) > 12 or int(declared) > cap):
        raise BodyTooLarge(f"body of {declared[:32]} bytes exceeds {cap}")
    body = bytearray()
    # read1 returns whatever has arrived (iter_content would wait for a whole chunk).
    while not attempt.expired and (chunk := raw.raw.read1(_CHUNK_BYTES)):
        body += chunk
        if len(body) > cap:
            raise BodyTooLarge(f"body exceeds {cap} bytes")
    return bytes(body)
