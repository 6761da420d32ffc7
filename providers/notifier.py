"""Notifications to the game server: one signed POST per attempt.

Retries are the outbox's business (minutes apart, in the database), so this client
makes exactly one attempt per call and says whether the game server confirmed it.
"""

from __future__ import annotations

import requests

from providers.errors import NotificationFailed
from providers.http import make_session
from providers.signing import sign

EVENT_ID_HEADER = "X-Betguard-Event-Id"


class HttpNotifier:
    def __init__(self, *, url: str, secret: str, connect_timeout: float = 2.0,
                 read_timeout: float = 5.0, session: requests.Session | None = None) -> None:
        self.url = url
        self._secret = secret
        self._timeout = (connect_timeout, read_timeout)
        self._session = session or make_session()

    def send(self, event_id: str, body: bytes) -> None:
        """POST ``body``; raise ``NotificationFailed`` unless the answer is 2xx."""
        headers = {"Content-Type": "application/json", EVENT_ID_HEADER: event_id,
                   **sign(self._secret, body)}
        try:
            # Streamed and closed unread: a hostile receiver's endless body costs nothing.
            with self._session.post(self.url, data=body, headers=headers, stream=True,
                                    timeout=self._timeout, allow_redirects=False) as answer:
                # The reason phrase, never the body: a hostile receiver may drip it.
                status, excerpt = answer.status_code, answer.reason or ""
        except requests.RequestException as exc:
            raise NotificationFailed(f"{type(exc).__name__}: {exc}"[:300]) from exc
        if not 200 <= status < 300:
            raise NotificationFailed(f"HTTP {status}: {excerpt}")

