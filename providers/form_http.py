"""Form-encoded HTTP calls to a provider speaking its own dialect, and reading its JSON.

The transport the PG Soft-like (:mod:`betguard.providers.pgsoft`) and Pragmatic-like
(:mod:`betguard.providers.pragmatic`) adapters share; each keeps its own signing, envelope,
error codes and rows.

One call of a :class:`FormHttpClient`:

* sends the url-encoded parameters -- the body of a POST, the query string of a GET --
  to each base URL in turn (the primary, then the fallbacks) until one answers, calling
  ``throttle`` before every request;
* counts as no answer (:class:`NoAnswer`) a connection error, a timeout, a 5xx and an
  answer not whole within the connect plus read timeouts (the attempt's deadline,
  ``betguard.providers.deadline``); while there is none it goes over the base URLs
  again, ``attempts`` times at most with a short random backoff (tenacity) -- but not
  after every URL timed out -- then raises :class:`ProviderUnavailable`;
* reads at most ``max_response_bytes`` of a body: a larger one is an invalid answer;
* returns the body of a 200 answer with the base URL that gave it, telling the fallback
  hook (:mod:`betguard.providers.fallback`) when a fallback gave it. Any other status
  is an invalid answer (:class:`ProviderInvalidResponse`): the provider's word, never
  retried nor asked of a fallback;
* keeps out of its messages and logs the values it is told to ``redact`` (a dialect
  that must send its secret in a query string), and then chains no transport error
  whose text would still hold them.

JSON answers are read with :func:`read_json`: integers exact, every other number a
:class:`~decimal.Decimal`, NaN and Infinity refused.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any, Literal, NoReturn
from urllib.parse import quote, quote_plus

import requests
from pydantic import ValidationError
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from betguard.providers.client_settings import ProviderClientSettings
from betguard.providers.deadline import (
    attempt_deadline,
    attempt_seconds,
    stop_watching,
)
from betguard.providers.errors import ProviderInvalidResponse, ProviderUnavailable
from betguard.providers.fallback import fallback_served
from betguard.providers.transport import (
    TRANSPORT_ERRORS,
    BodyTooLarge,
    make_session,
    read_capped,
    timed_out,
)

log = logging.getLogger(__name__)

# Signs one request: given its URL (the base URL, the call's path and any query) and its
# body (empty for a GET), the headers to add.
Sign = Callable[[str, bytes], Mapping[str, str]]


class NoAnswer(Exception):
    """One attempt got no answer (5xx, timeout, connection): another may."""


class TimedOut(NoAnswer):
    """One attempt took its whole timeout: not repeated at once (the provider may still
    hold the request; ``betguard.providers.http`` says why), though the next base URL is
    still asked."""


def _retried(error: BaseException) -> bool:
    return isinstance(error, NoAnswer) and not isinstance(error, TimedOut)


def invalid_answer(provider: str, call: str, problem: str) -> ProviderInvalidResponse:
    """An answer to ``call`` that is not one: ``problem`` says what is wrong."""
    return ProviderInvalidResponse(f"provider {provider}: invalid {call} answer: {problem}")


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a number JSON allows")


def read_json(content: bytes, *, provider: str = "", call: str = "") -> Any:
    """The body as JSON, amounts as Decimal; raises :class:`ProviderInvalidResponse`."""
    try:
        return json.loads(content, parse_float=Decimal, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:  # not UTF-8, not JSON, NaN, too deep
        raise invalid_answer(provider, call, f"body: not JSON ({str(exc)[:100]})") from None


def describe(error: ValidationError, whole: str = "body") -> str:
    """'field: problem' for each of the first errors, so the message names what was wrong
    (``whole``: the name of a problem of the whole object)."""
    parts = []
    for item in error.errors(include_url=False)[:5]:
        where = ".".join(str(part) for part in item["loc"]) or whole
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


@dataclass(frozen=True)
class Answer:
    """A 200 answer's body and the base URL that gave it."""

    content: bytes
    base: str
    via: str | None  # the fallback base URL that answered; None: the first one asked


@dataclass(frozen=True)
class _Request:
    method: Literal["GET", "POST"]
    path: str
    form: bytes
    call: str  # how messages name the call
    accept: str
    sign: Sign | None
    redact: tuple[str, ...] = ()  # values never to show in a message

    def scrubbed(self, text: str) -> str:
        """``text`` without the values to redact (raw or url-encoded)."""
        for value in self.redact:
            for form in {value, quote_plus(value), quote(value, safe="")}:
                text = text.replace(form, "[redacted]")
        return text


class FormHttpClient:
    """Form-encoded calls to one provider over its base URL and fallbacks (module doc)."""

    def __init__(self, settings: ProviderClientSettings, *, max_response_bytes: int) -> None:
        attempts = settings.attempts
        if attempts < 1:
            raise ValueError(f"provider {settings.name}: attempts must be at least 1, "
                             f"not {attempts}")
        self.provider = settings.name
        self.urls: tuple[str, ...] = tuple(
            url.rstrip("/") for url in (settings.base_url, *settings.fallback_urls))
        self.max_response_bytes = max_response_bytes
        self._timeout = (settings.connect_timeout, settings.read_timeout)
        self._attempt_seconds = attempt_seconds(connect_timeout=settings.connect_timeout,
                                                read_timeout=settings.read_timeout)
        self._throttle = settings.throttle
        self._session = make_session()
        self._retrying = Retrying(
            stop=stop_after_attempt(attempts),
            wait=wait_random_exponential(multiplier=0.1, min=0.1, max=1.0),
            retry=retry_if_exception(_retried),
            reraise=True,
        )

    def close(self) -> None:
        self._session.close()

    def call(self, method: Literal["GET", "POST"], path: str, form: bytes, *,
             bases: Sequence[str] | None = None, call: str | None = None,
             accept: str = "application/json", sign: Sign | None = None,
             redact: Sequence[str] = ()) -> Answer:
        """The 200 answer to ``method path`` with the url-encoded ``form``, from the first
        of ``bases`` (default: the client's URLs) that answers.

        ``call`` names the call in the messages of invalid answers (default: ``path``);
        ``sign`` adds each request's signature headers; ``redact`` lists values (e.g. a
        password in the query string) no message may show.
        """
        request = _Request(method, path, form, path if call is None else call, accept, sign,
                           tuple(value for value in redact if value))
        order = self.urls if bases is None else tuple(bases)
        retrying = self._retrying.copy(before_sleep=partial(self._log_retry, request))
        try:
            answered: tuple[bytes, str] = retrying(self._each_url, order, request)
        except NoAnswer as exc:
            raise ProviderUnavailable(f"provider {self.provider}: {method} {path}: no answer: "
                                      f"{exc}") from exc
        except requests.RequestException as exc:  # a malformed URL and the like
            failed = ProviderUnavailable(f"provider {self.provider}: {method} {path}: request "
                                         f"failed: {request.scrubbed(str(exc))}")
            raise failed from (None if request.redact else exc)
        content, base = answered
        if base == order[0]:
            return Answer(content, base, None)
        fallback_served(self.provider, base)
        return Answer(content, base, base)

    def _each_url(self, bases: tuple[str, ...], request: _Request) -> tuple[bytes, str]:
        failures: list[NoAnswer] = []
        for base in bases:
            try:
                return self._send(base, request), base
            except NoAnswer as exc:
                failures.append(exc)
        message = "; ".join(f"{base}: {exc}" for base, exc in zip(bases, failures, strict=True))
        if all(isinstance(exc, TimedOut) for exc in failures):
            raise TimedOut(message)  # every URL took its whole timeout: not again at once
        raise NoAnswer(message)

    def _send(self, base: str, request: _Request) -> bytes:
        if self._throttle is not None:
            self._throttle()
        if request.method == "POST":
            url, body = base + request.path, request.form
            headers = {"Content-Type": "application/x-www-form-urlencoded",
                       "Accept": request.accept}
        else:
            url, body = f"{base}{request.path}?{request.form.decode('ascii')}", None
            headers = {"Accept": request.accept}
        headers["Accept-Encoding"] = "identity"
        if request.sign is not None:
            headers.update(request.sign(url, body or b""))
        # One deadline for the whole attempt (``betguard.providers.deadline``): the
        # timeouts bound each socket read, not a peer dripping its answer.
        with attempt_deadline(self._attempt_seconds) as attempt:
            try:
                with self._session.request(request.method, url, data=body, headers=headers,
                                           timeout=self._timeout, stream=True,
                                           allow_redirects=False) as raw:
                    if raw.status_code >= 500:
                        raise NoAnswer(f"HTTP {raw.status_code}")
                    try:
                        content = read_capped(raw, attempt, self.max_response_bytes)
                    except BodyTooLarge as exc:
                        raise invalid_answer(self.provider, request.call, str(exc)) from exc
                    stop_watching(attempt)  # before the connection returns to the pool
            except TRANSPORT_ERRORS as exc:
                why = timed_out(exc, attempt)
                lost = TimedOut(request.scrubbed(why)) if why is not None else NoAnswer(
                    request.scrubbed(f"{type(exc).__name__}: {exc}"))
                raise lost from (None if request.redact else exc)
            if attempt.expired:  # a body cut short at the deadline is no answer
                raise TimedOut(attempt.too_slow())
        if raw.status_code != 200:
            excerpt = content[:200].decode("utf-8", errors="replace")
            raise invalid_answer(self.provider, request.call, "status code: unexpected HTTP "
                                 f"{raw.status_code}: {excerpt}")
        return content

    def _log_retry(self, request: _Request, state: RetryCallState) -> None:
        outcome = state.outcome
        reason = outcome.exception() if outcome is not None else None
        log.warning("provider %s: %s %s got no answer (attempt %d: %s), retrying",
                    self.provider, request.method, request.path, state.attempt_number, reason)
