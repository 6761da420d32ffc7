"""Notifications to the game server: one signed POST per attempt.

Retries are the outbox's business (minutes apart, in the database), so this client
makes exactly one attempt per call and says whether the game server confirmed it.
Each attempt is signed like a provider request (method, request target, a fresh
request id, the body); the body carries the event id receivers deduplicate on.
"""

from __future__ import annotations

import requests

from betguard.providers.deadline import attempt_deadline, attempt_seconds
from betguard.providers.errors import NotificationFailed
from betguard.providers.signing import Exchange, SignatureError, new_request_id, sign_request
from betguard.providers.transport import make_session

EVENT_ID_HEADER = "X-Betguard-Event-Id"


class HttpNotifier:
    def __init__(self, *, url: str, secret: str, connect_timeout: float = 2.0,
                 read_timeout: float = 5.0, session: requests.Session | None = None) -> None:
        self.url = url
        self._secret = secret
        self._timeout = (connect_timeout, read_timeout)
        self._attempt_seconds = attempt_seconds(connect_timeout=connect_timeout,
                                                read_timeout=read_timeout)
        self._session = session or make_session()

    def send(self, event_id: str, body: bytes) -> None:
        """POST ``body``; raise ``NotificationFailed`` unless the answer is 2xx."""
        # One deadline for the whole attempt: a receiver dripping its status line and
        # headers never trips the read timeout (``betguard.providers.deadline``).
        with attempt_deadline(self._attempt_seconds) as attempt:
            try:
                prepared = self._signed(event_id, body)
                # Streamed and closed unread: a hostile receiver's endless body costs nothing.
                with self._session.send(prepared, stream=True, timeout=self._timeout,
                                        allow_redirects=False) as answer:
                    # The reason phrase, never the body: a hostile receiver may drip it.
                    status, excerpt = answer.status_code, answer.reason or ""
            except (requests.RequestException, SignatureError) as exc:
                if attempt.expired:
                    raise NotificationFailed(
                        f"no answer within the attempt's {self._attempt_seconds:g} s") from exc
                raise NotificationFailed(f"{type(exc).__name__}: {exc}"[:300]) from exc
        if not 200 <= status < 300:
            raise NotificationFailed(f"HTTP {status}: {excerpt}")

    def _signed(self, event_id: str, body: bytes) -> requests.PreparedRequest:
        """The POST as it goes on the wire, signed over its final request target."""
        headers = {"Content-Type": "application/json", EVENT_ID_HEADER: event_id}
        prepared = self._session.prepare_request(
            requests.Request("POST", self.url, data=body, headers=headers))
        exchange = Exchange(new_request_id(), "POST", prepared.path_url)
        prepared.headers.update(sign_request(self._secret, exchange, body))
        return prepared
