"""Signed JSON over HTTP: the plumbing shared by the provider and wallet clients.

One :class:`SignedJsonClient` per remote service per process, created at
process start (never at import), holding one pooled ``requests.Session``.

What it guarantees to its callers:

* every request is signed (method, request target, a fresh request id and the
  body) and every response signature is verified against that very request and
  the status code received (invariant 9) -- a response that is not provably the
  other side's answer to this request is an invalid response, never an answer;
* a response body is read up to :data:`MAX_RESPONSE_BYTES` and no further;
* one call is retried for a few seconds at most (tenacity) on connection
  errors, timeouts and 5xx -- never on 4xx, never for minutes: longer waits
  are the check task rescheduling itself (STYLE rule 5). Every request the
  contract defines is safe to repeat (reads, idempotent cancel, refunds keyed
  by an idempotency key), so a retry after a lost answer is harmless.

Status codes other than 5xx are returned to the caller, who knows which of
them the contract gives a meaning to (404, 409, ...).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests
import urllib3
from requests.adapters import HTTPAdapter
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from providers import signing
from providers.errors import (
    ProviderInvalidResponse,
    ProviderRejected,
    ProviderUnavailable,
    WalletRejected,
    WalletUnavailable,
)

log = logging.getLogger(__name__)

MAX_RESPONSE_BYTES = 1024 * 1024
_CHUNK_BYTES = 64 * 1024
# Transport failures worth another try: the request may not have arrived, or
# its answer was lost on the way back.
_TRANSIENT_TRANSPORT_ERRORS = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
    # The body is read from the raw response: urllib3's own errors arrive unwrapped
    # (a connection cut mid-body, a read that timed out).
    urllib3.exceptions.HTTPError,
)


@dataclass(frozen=True)
class ErrorClasses:
    """Which exceptions a client raises, so provider and wallet callers each get their own."""

    unavailable: type[Exception]  # no answer: 5xx, timeout, connection error
    invalid: type[Exception]  # an answer that cannot be trusted or parsed
    rejected: type[Exception]  # the other side refused (4xx): do not repeat


PROVIDER_ERRORS = ErrorClasses(
    unavailable=ProviderUnavailable, invalid=ProviderInvalidResponse, rejected=ProviderRejected
)
# For the wallet an untrustworthy answer leaves the refund in doubt, exactly
# like no answer at all: the caller retries later under the same key.
WALLET_ERRORS = ErrorClasses(
    unavailable=WalletUnavailable, invalid=WalletUnavailable, rejected=WalletRejected
)


@dataclass(frozen=True)
class SignedResponse:
    """A response whose signature has been verified: its body is the other side's words."""

    status_code: int
    content: bytes

    def text_excerpt(self, limit: int = 200) -> str:
        """The start of the body, for error messages (never the whole of a large body)."""
        return self.content[:limit].decode("utf-8", errors="replace")


class _TransientFailure(Exception):
    """One attempt failed in a way another attempt may fix (5xx, timeout, connection)."""


class _UntrustedResponse(Exception):
    """A response that must not be believed: mis-signed, oversized or truncated."""


# Connections kept open per host: at least the provider worker's thread count, or the
# threads beyond it open (and close) a new connection for every call.
POOL_MAXSIZE = 128


def make_session(*, pool_maxsize: int = POOL_MAXSIZE) -> requests.Session:
    """A session with a connection pool and no hidden retries (tenacity owns retrying).

    It ignores the environment (proxy variables, .netrc): settings come from betguard's
    own configuration only, and scanning the environment on every request cost more
    CPU than the rest of the request.
    """
    session = requests.Session()
    session.trust_env = False
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_maxsize, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class SignedJsonClient:
    """Sends signed JSON requests to one service and returns verified responses."""

    def __init__(
        self,
        *,
        base_url: str,
        secret: str,
        errors: ErrorClasses = PROVIDER_ERRORS,
        name: str = "",
        connect_timeout: float = 2.0,
        read_timeout: float = 5.0,
        attempts: int = 3,
        max_wait: float = 1.0,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        throttle: Callable[[], None] | None = None,
    ) -> None:
        if attempts < 1:
            raise ValueError(f"attempts must be at least 1, not {attempts}")
        self.base_url = base_url.rstrip("/")
        self.name = name or self.base_url
        self.errors = errors
        self._secret = secret
        self._timeout = (connect_timeout, read_timeout)
        self._session = session if session is not None else make_session()
        self._throttle = throttle  # called before every attempt: the shared rate limit
        self._retrying = Retrying(
            stop=stop_after_attempt(attempts),
            # full jitter between 0.1 s and an exponential ceiling capped at max_wait:
            # workers retrying the same outage spread out instead of stampeding
            wait=wait_random_exponential(multiplier=0.1, min=0.1, max=max_wait),
            retry=retry_if_exception_type(_TransientFailure),
            sleep=sleep,
            before_sleep=self._log_retry,
            reraise=True,
        )

    def close(self) -> None:
        """Release pooled connections (at process shutdown)."""
        self._session.close()

    def request(self, method: str, path: str, *, body: object | None = None) -> SignedResponse:
        """Send one call (retried briefly if transient) and return its verified response.

        Raises ``errors.unavailable`` when no attempt got an answer, and
        ``errors.invalid`` when the answer cannot be trusted.
        """
        payload = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
        where = f"{self.name}: {method} {path}"
        try:
            # a copy per call: one client may serve several threads at once
            retrying = self._retrying.copy()
            response: SignedResponse = retrying(self._attempt, method, path, payload)
        except _TransientFailure as exc:
            raise self.errors.unavailable(f"{where}: {exc}") from exc
        except _UntrustedResponse as exc:
            raise self.errors.invalid(f"{where}: untrusted response: {exc}") from exc
        except requests.RequestException as exc:  # a malformed URL and the like: do not retry
            raise self.errors.unavailable(f"{where}: request failed: {exc}") from exc
        return response

    def _attempt(self, method: str, path: str, payload: bytes) -> SignedResponse:
        if self._throttle is not None:
            self._throttle()
        prepared, exchange = self._signed_request(method, path, payload)
        deadline = time.monotonic() + sum(self._timeout)
        try:
            with self._session.send(
                prepared,
                timeout=self._timeout,
                stream=True,
                allow_redirects=False,  # a redirect is not part of any contract
            ) as raw:
                if raw.status_code >= 500:
                    raise _TransientFailure(f"HTTP {raw.status_code}")
                if 300 <= raw.status_code < 400:  # no contract redirects; its body is moot
                    raise _UntrustedResponse(f"unexpected HTTP {raw.status_code} redirect")
                content = _read_capped(raw, deadline)
                return self._verified(raw, exchange, content)
        except _TRANSIENT_TRANSPORT_ERRORS as exc:
            raise _TransientFailure(f"{type(exc).__name__}: {exc}") from exc

    def _signed_request(
        self, method: str, path: str, payload: bytes
    ) -> tuple[requests.PreparedRequest, signing.Exchange]:
        """The request as it goes on the wire, signed over its final target.

        The signature binds the request target exactly as sent (after requests has
        normalised the URL's quoting), with a fresh request id per attempt.
        """
        headers = {"Content-Type": "application/json", "Accept": "application/json",
                   # Plain bytes on the wire, so the body can be read as it arrives.
                   "Accept-Encoding": "identity"}
        prepared = self._session.prepare_request(requests.Request(
            method, self.base_url + path, data=payload or None, headers=headers))
        exchange = signing.Exchange(
            signing.new_request_id(), str(prepared.method), prepared.path_url)
        try:
            prepared.headers.update(signing.sign_request(self._secret, exchange, payload))
        except signing.SignatureError as exc:  # a target no contract allows: do not send it
            raise requests.exceptions.InvalidURL(str(exc)) from exc
        return prepared, exchange

    def _verified(
        self, raw: requests.Response, exchange: signing.Exchange, content: bytes
    ) -> SignedResponse:
        try:
            signing.verify_response(self._secret, raw.headers, exchange, raw.status_code, content)
        except signing.SignatureError as exc:
            raise _UntrustedResponse(f"HTTP {raw.status_code}, {exc}") from exc
        return SignedResponse(status_code=raw.status_code, content=content)

    def _log_retry(self, state: RetryCallState) -> None:
        outcome = state.outcome
        reason = outcome.exception() if outcome is not None else None
        method, path = state.args[0], state.args[1]
        log.warning(
            "%s: %s %s failed (attempt %d: %s), retrying",
            self.name,
            method,
            path,
            state.attempt_number,
            reason,
        )


def _read_capped(raw: requests.Response, deadline: float) -> bytes:
    """Read the body, refusing more than MAX_RESPONSE_BYTES or a trickle past the deadline.

    The read timeout bounds each socket read, not the whole body; the
    deadline stops a peer that sends a byte just often enough to keep us.
    """
    declared = raw.headers.get("Content-Length", "")
    # ASCII digits only, and few of them: int() of thousands of digits raises ValueError.
    if declared.isascii() and declared.isdigit() and (
        len(declared) > 12 or int(declared) > MAX_RESPONSE_BYTES
    ):
        raise _UntrustedResponse(f"body of {declared[:32]} bytes exceeds {MAX_RESPONSE_BYTES}")
    body = bytearray()
    # read1 returns whatever has arrived (iter_content would wait for a whole chunk,
    # so a peer dripping one byte at a time would never meet the deadline check).
    while chunk := raw.raw.read1(_CHUNK_BYTES):
        body += chunk
        if len(body) > MAX_RESPONSE_BYTES:
            raise _UntrustedResponse(f"body exceeds {MAX_RESPONSE_BYTES} bytes")
        if time.monotonic() > deadline:
            raise _TransientFailure("response body arrived too slowly")
    return bytes(body)
