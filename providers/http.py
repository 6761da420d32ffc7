"""Signed JSON over HTTP: the plumbing shared by the provider and wallet clients.

One :class:`SignedJsonClient` per remote service per process, created at
process start (never at import), holding one pooled ``requests.Session``.

What it guarantees to its callers:

* every request is signed (method, request target, a fresh request id and the
  body) and every response signature is verified against that very request and
  the status code received (docs/design.md, invariant 9) -- a response that is not provably the
  other side's answer to this request is an invalid response, never an answer;
* a response body is read up to ``transport.MAX_RESPONSE_BYTES`` and no further;
* each attempt is bounded as a whole (``betguard.providers.deadline``): connecting, the
  headers and the body within the connect plus read timeouts, however slowly the other
  side sends;
* one call is retried for a few seconds at most (tenacity) on refused or reset
  connections and 5xx -- never after a timeout (the other side may still hold the
  request, and would hold the next one as long), never on 4xx, never for minutes:
  longer waits are the check task rescheduling itself. Every request the
  contract defines is safe to repeat (reads, idempotent cancel, refunds keyed
  by an idempotency key), so a retry after a lost answer is harmless.

Status codes other than 5xx are returned to the caller, who knows which of
them the contract gives a meaning to (404, 409, ...).

A backup channel: a client may have fallback base URLs (a provider's mirror domains).
A call that gets no answer at all from one base URL (connection refused, timeout, 5xx
after its retries -- the "unavailable" class) is sent to the next, in order; an answer
that cannot be trusted, or a refusal (4xx), is the service's word and is never asked
again elsewhere. Each request is signed for the target it is sent to, so nothing
changes there. The answer says which fallback served it (``SignedResponse.via``; None
for the primary), and the process-wide fallback hook (``betguard.providers.fallback``: the
worker's metrics) hears of each such answer.

Stickiness, bounded: once a fallback has answered, the client starts with it for
``fallback.STICK_SECONDS`` (calls in a row do not each wait for a dead primary first), then
tries the primary first again. Nothing else is remembered.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import requests
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from betguard.providers import signing
from betguard.providers.deadline import attempt_deadline, attempt_seconds, stop_watching
from betguard.providers.errors import (
    ProviderInvalidResponse,
    ProviderRejected,
    ProviderUnavailable,
    WalletRejected,
    WalletUnavailable,
)
from betguard.providers.fallback import STICK_SECONDS, fallback_served
from betguard.providers.transport import (
    TRANSPORT_ERRORS,
    BodyTooLarge,
    make_session,
    read_capped,
    timed_out,
)

log = logging.getLogger(__name__)

_HEADERS = {**requests.utils.default_headers(),
            "Content-Type": "application/json", "Accept": "application/json",
            # Plain bytes on the wire, so the body can be read as it arrives.
            "Accept-Encoding": "identity"}


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
    via: str | None = None  # the fallback base URL that answered; None: the primary

    def text_excerpt(self, limit: int = 200) -> str:
        """The start of the body, for error messages (never the whole of a large body)."""
        return self.content[:limit].decode("utf-8", errors="replace")


class _TransientFailure(Exception):
    """One attempt failed in a way another attempt may fix (5xx, timeout, connection)."""


class _TimedOut(_TransientFailure):
    """One attempt took its whole timeout (connect, read or the attempt's deadline): it is
    not repeated at once. The provider may still hold the request, and another attempt
    now would wait as long again, holding the call's concurrency slot and delaying the
    circuit breaker's count; the check asks again later. Another base URL is still tried.
    """


def _retried(error: BaseException) -> bool:
    """What tenacity retries at once: failures that come back quickly -- a refused or
    reset connection, a 5xx -- never a timeout."""
    return isinstance(error, _TransientFailure) and not isinstance(error, _TimedOut)


class _UntrustedResponse(Exception):
    """A response that must not be believed: mis-signed, oversized or truncated."""


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
        fallback_urls: Sequence[str] = (),
        service: str = "",
        stick_for: float = STICK_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if attempts < 1:
            raise ValueError(f"attempts must be at least 1, not {attempts}")
        self.base_url = base_url.rstrip("/")
        self.fallback_urls = tuple(url.rstrip("/") for url in fallback_urls)
        self.name = name or self.base_url
        self.service = service or self.name  # how the fallback hook names us
        self._stick_for = stick_for
        self._clock = clock
        self._sticky: tuple[str, float] | None = None  # (fallback, until) we start with
        self._sticky_lock = threading.Lock()
        self.errors = errors
        self._secret = secret
        self._timeout = (connect_timeout, read_timeout)
        self._attempt_seconds = attempt_seconds(connect_timeout=connect_timeout,
                                                read_timeout=read_timeout)
        self._session = session if session is not None else make_session()
        self._throttle = throttle  # called before every attempt: the shared rate limit
        self._attempts = attempts
        self._retrying = Retrying(
            stop=stop_after_attempt(attempts),
            # full jitter between 0.1 s and an exponential ceiling capped at max_wait:
            # workers retrying the same outage spread out instead of stampeding
            wait=wait_random_exponential(multiplier=0.1, min=0.1, max=max_wait),
            retry=retry_if_exception(_retried),
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
        failures: list[str] = []
        for base in self.base_urls():
            try:
                response = self._call(base, method, path, payload)
            except _TransientFailure as exc:
                failures.append(str(exc) if base == self.base_url else f"{base}: {exc}")
                continue
            except _UntrustedResponse as exc:
                raise self.errors.invalid(f"{where}: untrusted response: {exc}") from exc
            except requests.RequestException as exc:  # a malformed URL and the like
                raise self.errors.unavailable(f"{where}: request failed: {exc}") from exc
            return self._served(base, response)
        raise self.errors.unavailable(f"{where}: {'; '.join(failures)}")

    def base_urls(self) -> list[str]:
        """The base URLs in the order the next call tries them: the primary, then the
        fallbacks as configured -- unless a fallback answered within ``stick_for``: then
        it comes first."""
        urls = [self.base_url, *self.fallback_urls]
        with self._sticky_lock:
            sticky = self._sticky
            if sticky is not None and self._clock() >= sticky[1]:
                self._sticky = sticky = None
        if sticky is None:
            return urls
        return [sticky[0], *(url for url in urls if url != sticky[0])]

    def _call(self, base: str, method: str, path: str, payload: bytes) -> SignedResponse:
        """One base URL, retried briefly (tenacity) while it gives no answer."""
        if self._attempts == 1:  # nothing to retry: tenacity's bookkeeping costs CPU
            return self._attempt(method, path, payload, base)
        # a copy per call: one client may serve several threads at once
        retrying = self._retrying.copy()
        response: SignedResponse = retrying(self._attempt, method, path, payload, base)
        return response

    def _served(self, base: str, response: SignedResponse) -> SignedResponse:
        """Note who answered: a fallback becomes the first try for a while."""
        if base == self.base_url:
            with self._sticky_lock:
                self._sticky = None
            return response
        with self._sticky_lock:
            self._sticky = (base, self._clock() + self._stick_for)
        fallback_served(self.service, base)
        return SignedResponse(response.status_code, response.content, via=base)

    def _attempt(self, method: str, path: str, payload: bytes, base: str) -> SignedResponse:
        if self._throttle is not None:
            self._throttle()
        prepared, exchange = self._signed_request(method, path, payload, base)
        # The whole attempt -- connecting, the headers, the body -- within one deadline:
        # the timeouts bound each socket read only, and a peer dripping its answer a byte
        # at a time would otherwise keep the call (and its concurrency slot) for ever.
        with attempt_deadline(self._attempt_seconds) as attempt:
            try:
                # Straight to the connection pool's adapter: the session's own send adds
                # hooks, cookies and redirects, none of which a signed call has (a
                # redirect is not part of any contract), and cost a tenth of the CPU.
                adapter = self._session.get_adapter(prepared.url or "")
                with adapter.send(prepared, timeout=self._timeout, stream=True) as raw:
                    if raw.status_code >= 500:
                        raise _TransientFailure(f"HTTP {raw.status_code}")
                    if 300 <= raw.status_code < 400:  # no contract redirects; body moot
                        raise _UntrustedResponse(f"unexpected HTTP {raw.status_code} redirect")
                    try:
                        content = read_capped(raw, attempt)
                    except BodyTooLarge as exc:
                        raise _UntrustedResponse(str(exc)) from exc
                    stop_watching(attempt)  # before the connection returns to the pool
            except TRANSPORT_ERRORS as exc:
                why = timed_out(exc, attempt)
                if why is not None:
                    raise _TimedOut(why) from exc
                raise _TransientFailure(f"{type(exc).__name__}: {exc}") from exc
            if attempt.expired:  # a body cut short at the deadline is no answer
                raise _TimedOut(attempt.too_slow())
        return self._verified(raw, exchange, content)

    def _signed_request(
        self, method: str, path: str, payload: bytes, base: str = ""
    ) -> tuple[requests.PreparedRequest, signing.Exchange]:
        """The request as it goes on the wire, signed over its final target.

        The signature binds the request target exactly as sent (after requests has
        normalised the URL's quoting), with a fresh request id per attempt.
        """
        # Prepared without the session and only in the parts a signed call has: merging
        # the session's settings and preparing cookies, authentication from the URL and
        # hooks cost half of preparing it, and a signed API keeps no cookies.
        prepared = requests.PreparedRequest()
        prepared.prepare_method(method)
        prepared.prepare_url((base or self.base_url) + path, None)
        prepared.prepare_headers(_HEADERS)
        prepared.prepare_body(payload or None, None)
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

