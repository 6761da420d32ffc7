"""A PG Soft provider: no status call, no cancel, only its bet history (GetHistory).

Every wire fact, with its source and the option that changes it, is listed in
docs/providers/pgsoft.md; the wire itself (the call, PG's hash authentication, the
envelope and its codes, the rows and hands, their strict models and parsing) is
``betguard.providers.pgsoft_wire``. PG's history is served by its data-grabber host,
which is this provider's ``base_url``, configured apart from PG's API host (betguard
calls nothing there). Each call carries a new ``trace_id``: it is in the pull's log line
and in every message about the call, so a call can be traced with PG support.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from betguard.models.domain.times import to_millis
from betguard.providers.base import (
    BetStatus,
    CancelOutcome,
    Capability,
    HistoryPage,
    HistoryRow,
)
from betguard.providers.client_settings import ProviderClientSettings
from betguard.providers.errors import ProviderError, ProviderInvalidResponse, ProviderRejected
from betguard.providers.form_http import FormHttpClient
from betguard.providers.pgsoft_wire import (
    CALL,
    MAX_PAGE,
    MAX_WINDOW,
    MIN_PAGE,
    PATH,
    UNKNOWN_FIELDS,
    WINDOW_CALL,
    WINDOW_PATH,
    form_body,
    hash_headers,
    parse_rows,
    row_version_of,
    to_page,
    traced_path,
    window_body,
)
from betguard.providers.problems import ProblemReporter

FEED = "history"
# A page of 5000 rows is about 3 MB; anything far beyond is no GetHistory answer.
MAX_RESPONSE_BYTES = 16 * 1024 * 1024
OPTIONS = frozenset({"operator_token", "hash_salt_env", "unknown_fields"})
_OPERATOR_TOKEN = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,127}")


def _options(name: str, options: Mapping[str, Any]) -> tuple[str, str | None, str]:
    """The operator token, the hash salt (None: no hash authentication) and what to do
    with fields outside the public list; raises ValueError naming what is wrong."""
    given = dict(options)
    unknown = sorted(set(given) - OPTIONS)
    if unknown:
        raise ValueError(f"provider {name}: unknown pgsoft option(s): {', '.join(unknown)} "
                         f"(known: {', '.join(sorted(OPTIONS))})")
    token = given.get("operator_token")
    if not isinstance(token, str) or not _OPERATOR_TOKEN.fullmatch(token):
        raise ValueError(f"provider {name}: option operator_token is required: letters, "
                         "digits and ._:- only, at most 128")
    salt = None
    variable = given.get("hash_salt_env")
    if variable is not None:
        if not isinstance(variable, str) or not _ENV_NAME.fullmatch(variable):
            raise ValueError(f"provider {name}: option hash_salt_env must name an "
                             "environment variable (A-Z, 0-9, _)")
        salt = os.environ.get(variable)
        if not salt:
            raise ValueError(f"provider {name}: option hash_salt_env names {variable}, "
                             "which is not set: PG's hash authentication needs its salt")
    fields = given.get("unknown_fields", "refuse")
    if fields not in UNKNOWN_FIELDS:
        raise ValueError(f"provider {name}: option unknown_fields must be one of "
                         f"{', '.join(UNKNOWN_FIELDS)}, not {str(fields)[:40]!r}")
    return token, salt, fields


class PgSoftProvider:
    """A history-only provider speaking PG Soft's GetHistory."""

    def __init__(self, settings: ProviderClientSettings) -> None:
        name, secret, page_size = settings.name, settings.secret, settings.page_size
        token, salt, unknown_fields = _options(name, settings.options)
        if not secret:
            raise ValueError(f"provider {name}: the secret (secret_key) is required")
        if not MIN_PAGE <= page_size <= MAX_PAGE:
            raise ValueError(f"provider {name}: page_size must be {MIN_PAGE} to {MAX_PAGE} "
                             f"(GetHistory's count), not {page_size}")
        self.name = name
        self.supports_batch = False
        self.capabilities = frozenset({Capability.HISTORY, Capability.HISTORY_WINDOW})
        self.feeds: tuple[str, ...] = (FEED,)
        self._token = token
        self._secret = secret
        self._salt = salt
        self._unknown_fields = unknown_fields
        self._page_size = page_size
        self._report = ProblemReporter(name, settings.report_problem)
        self._client = FormHttpClient(settings, max_response_bytes=MAX_RESPONSE_BYTES)

    def close(self) -> None:
        self._client.close()

    def get_status(self, bet_ref: str, player_id: str = "") -> BetStatus:
        raise ProviderRejected(f"provider {self.name}: PG Soft has no bet status call; "
                               "its bets are known from the history feed only")

    def get_statuses(self, bet_refs: list[str]) -> dict[str, BetStatus]:
        raise ProviderRejected(f"provider {self.name}: PG Soft has no batch status call; "
                               "its bets are known from the history feed only")

    def cancel(self, bet_ref: str, player_id: str = "") -> CancelOutcome:
        raise ProviderRejected(f"provider {self.name}: PG Soft has no cancel call; "
                               "it resolves pending bets itself")

    def fetch_history(self, feed: str, cursor: str | None) -> HistoryPage:
        """One GetHistory page from ``cursor`` on (inclusive: its boundary row comes again)."""
        if feed != FEED:
            raise ProviderRejected(f"provider {self.name}: no feed {feed!r} (its only feed is "
                                   f"{FEED!r})")
        row_version = row_version_of(cursor)
        body = form_body(self._token, self._secret, row_version, self._page_size)
        rows, top, listed, trace_id = self._records(PATH, CALL, body, row_version=row_version)
        return to_page(rows, top=top, listed=listed, count=self._page_size, trace_id=trace_id)

    def fetch_history_window(self, start: datetime, end: datetime) -> HistoryPage:
        """One page of the records whose ``betTime`` is in [start, end], from the
        time-range call. A full page (``more``) goes on from its latest ``betTime``, the
        page's ``cursor`` (ms; inclusive: the records at that moment come again, the
        caller upserts by ``row_id``)."""
        if end <= start or end - start > MAX_WINDOW:
            raise ProviderRejected(f"provider {self.name}: {WINDOW_CALL} takes a window of "
                                   f"up to {MAX_WINDOW.days} days, not {start} to {end}")
        from_ms = to_millis(start)
        body = window_body(self._token, self._secret, from_ms, to_millis(end), self._page_size)
        rows, _top, listed, trace_id = self._records(WINDOW_PATH, WINDOW_CALL, body,
                                                     row_version=0)
        latest = max((to_millis(row.placed_at) for row in rows if row.placed_at is not None),
                     default=from_ms)
        more = listed >= self._page_size
        if more and latest <= from_ms:
            raise ProviderInvalidResponse(
                f"provider {self.name}: {WINDOW_CALL}: a full page that does not move past "
                f"betTime {from_ms}: the window cannot be read whole (trace_id {trace_id})")
        return HistoryPage(rows=rows, cursor=str(latest), more=more, trace_id=trace_id)

    def _records(self, path: str, call: str, body: bytes, *,
                 row_version: int) -> tuple[list[HistoryRow], int, int, str]:
        """One history call under a new trace id (signed when a salt is set): its rows,
        the highest version and how many records it listed, and the trace id."""
        trace_id = str(uuid.uuid4())
        sign = None if self._salt is None else self._sign
        try:
            content = self._client.call("POST", traced_path(trace_id, path), body,
                                        call=call, sign=sign).content
        except ProviderError as exc:
            raise type(exc)(f"{exc} (trace_id {trace_id})") from exc
        rows, top, listed = parse_rows(
            content, row_version=row_version, count=self._page_size, provider=self.name,
            trace_id=trace_id, unknown_fields=self._unknown_fields, report=self._report,
            call=call)
        return rows, top, listed, trace_id

    def _sign(self, url: str, body: bytes) -> dict[str, str]:
        assert self._salt is not None  # noqa: S101 - only given as the signer with a salt
        return hash_headers(self._token, self._salt, url, body)
