"""A PG Soft-style provider: no status call, no cancel, only a bet-history feed.

The provider's one call is ``POST /Bet/v4/GetHistory`` (its ``GetHistory`` API): a
form-encoded body (``operator_token``, ``secret_key``, ``bet_type=1``, ``row_version``
-- the cursor -- and ``count``, 1500 to 5000) signed with HMAC headers::

    x-date: <unix seconds>
    Authorization: PWS-HMAC-SHA256 Credential=<operator_token>, Signature=<hex>
    Signature = hex(HMAC-SHA256(secret_key, "POST\\n<path>\\n<x-date>\\n<sha256 hex of body>"))

Every answer is HTTP 200 with ``{"data": [...] | null, "error": null | {"code", "message"}}``.
The codes betguard knows (:data:`ERROR_CODES`): 1034 invalid request, 1204 invalid
operator and 1301 invalid signature are refusals (:class:`ProviderRejected`: repeating
the call will not help); 1200 internal error and 3021 too many requests mean "later"
(:class:`ProviderUnavailable`). Any other code, any body that is not exactly this
envelope, and any status but 200 (5xx: no answer) is an invalid answer: nothing is
believed before it has passed the strict models below (docs/design.md, invariant 8),
so an invalid answer never settles anything.

Rows (``data``) are the latest state of each bet record whose ``rowVersion`` is at or
above the requested one, ordered by it: the boundary row comes again (the caller
upserts by ``row_id``). ``betId`` (the record's id) and ``parentBetId`` (the round: a
PG bet's ``bet_ref`` in betguard is its decimal string) are 64-bit integers beyond
what a float holds, so the JSON is read with exact integers and with every amount a
:class:`~decimal.Decimal` (PG sends amounts as JSON numbers).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal
from urllib.parse import urlencode

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from betguard.providers.amounts import Currency, Money
from betguard.providers.base import (
    BetStatus,
    CancelOutcome,
    Capability,
    HistoryPage,
    HistoryRow,
    ProviderStatus,
)
from betguard.providers.client_settings import ProviderClientSettings
from betguard.providers.errors import (
    ProviderError,
    ProviderInvalidResponse,
    ProviderRejected,
    ProviderUnavailable,
)
from betguard.providers.form_http import FormHttpClient, describe, invalid_answer, read_json

PATH = "/Bet/v4/GetHistory"
CALL = "GetHistory"  # how messages name the call
FEED = "history"
MIN_PAGE, MAX_PAGE = 1500, 5000
BET_TYPE_REAL = "1"
AUTH_SCHEME = "PWS-HMAC-SHA256"
# A page of 5000 rows is about 1.5 MB; anything far beyond is no GetHistory answer.
MAX_RESPONSE_BYTES = 8 * 1024 * 1024
OPTIONS = frozenset({"operator_token"})
_OPERATOR_TOKEN = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_INT64 = 2**63
_LATEST_MS = 253402300799999  # 9999-12-31T23:59:59.999Z: past it, no time betguard can hold

# code -> (meaning, what the caller should do)
ERROR_CODES: dict[str, tuple[str, type[ProviderError]]] = {
    "1034": ("invalid request parameter", ProviderRejected),
    "1204": ("invalid operator token or secret key", ProviderRejected),
    "1301": ("invalid request signature", ProviderRejected),
    "1200": ("internal error, try again later", ProviderUnavailable),
    "3021": ("called too often, try again later", ProviderUnavailable),
}


# -- signing -----------------------------------------------------------------------------


def signature(secret: str, method: str, path: str, x_date: str, body: bytes) -> str:
    """hex HMAC-SHA256 over the method, the path, the date and the body's SHA-256."""
    message = "\n".join([method, path, x_date, hashlib.sha256(body).hexdigest()])
    return hmac.new(secret.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).hexdigest()


def signed_headers(operator_token: str, secret: str, path: str, body: bytes,
                   *, now: float | None = None) -> dict[str, str]:
    """The headers of one GetHistory request: content type, date and authorization."""
    x_date = str(int(time.time() if now is None else now))
    proof = signature(secret, "POST", path, x_date, body)
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "Accept": "application/json",
        "Accept-Encoding": "identity",
        "x-date": x_date,
        "Authorization": f"{AUTH_SCHEME} Credential={operator_token}, Signature={proof}",
    }


def form_body(operator_token: str, secret: str, row_version: int, count: int) -> bytes:
    """The form-encoded body of a GetHistory request."""
    return urlencode([
        ("operator_token", operator_token),
        ("secret_key", secret),
        ("bet_type", BET_TYPE_REAL),
        ("row_version", str(row_version)),
        ("count", str(count)),
    ]).encode("ascii")


# -- the answer's strict models ----------------------------------------------------------


Id64 = Annotated[int, Field(ge=1, lt=_INT64)]
Millis = Annotated[int, Field(ge=0, le=_LATEST_MS)]


class Row(BaseModel):
    """One record of GetHistory's ``data``. Unknown extra keys are ignored."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    betId: Id64  # noqa: N815 - the provider's field names
    parentBetId: Id64  # noqa: N815
    playerName: str = Field(min_length=1, max_length=200)  # noqa: N815
    gameId: int = Field(ge=0, lt=_INT64)  # noqa: N815
    betAmount: Money  # noqa: N815
    winAmount: Money  # noqa: N815
    currency: Currency
    betTime: Millis  # noqa: N815
    betEndTime: Millis | None = None  # noqa: N815
    rowVersion: int = Field(ge=0, lt=_INT64)  # noqa: N815
    betStatus: Literal["running", "completed", "refunded"]  # noqa: N815

    @model_validator(mode="after")
    def _ended_has_an_end(self) -> Row:
        if self.betStatus != "running" and self.betEndTime is None:
            raise ValueError(f"betEndTime is required when betStatus is {self.betStatus}")
        return self


class ErrorBody(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    code: str = Field(min_length=1, max_length=16)
    message: str = ""


class Envelope(BaseModel):
    """Every GetHistory answer: rows, or an error, never both nor neither."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    data: list[Row] | None
    error: ErrorBody | None

    @model_validator(mode="after")
    def _one_of_data_or_error(self) -> Envelope:
        if (self.data is None) == (self.error is None):
            raise ValueError("exactly one of data and error must be given")
        return self


def _invalid(provider: str, problem: str) -> ProviderInvalidResponse:
    return invalid_answer(provider, CALL, problem)


def read_envelope(content: bytes, *, provider: str = "") -> Envelope:
    """The answer, validated; raises :class:`ProviderInvalidResponse` naming the problem."""
    decoded = read_json(content, provider=provider, call=CALL)
    try:
        return Envelope.model_validate(decoded)
    except ValidationError as exc:
        raise _invalid(provider, describe(exc)) from None


def error_for(error: ErrorBody, *, provider: str = "") -> ProviderError:
    """The exception an error in the body stands for; an unknown code is invalid."""
    said = error.message[:200]
    known = ERROR_CODES.get(error.code)
    if known is None:
        return _invalid(provider, f"error: unknown code {error.code!r} ({said})")
    meaning, kind = known
    return kind(f"provider {provider}: {CALL} error {error.code} ({meaning}): {said}")


def parse_rows(content: bytes, *, row_version: int, count: int,
               provider: str = "") -> list[HistoryRow]:
    """The page's rows in betguard's terms, or the exception the answer stands for.

    Beyond the models: no more rows than asked for, none older than the requested
    version, in version order.
    """
    envelope = read_envelope(content, provider=provider)
    if envelope.error is not None:
        raise error_for(envelope.error, provider=provider)
    rows = envelope.data or []
    if len(rows) > count:
        raise _invalid(provider, f"data: {len(rows)} rows, more than the {count} asked for")
    previous = row_version
    for i, row in enumerate(rows):
        if row.rowVersion < previous:
            raise _invalid(provider, f"data.{i}.rowVersion: {row.rowVersion} is below "
                           f"{previous} (older than asked for, or out of order)")
        previous = row.rowVersion
    return [to_history_row(row) for row in rows]


_STATUSES = {"running": ProviderStatus.PENDING, "completed": ProviderStatus.SETTLED,
             "refunded": ProviderStatus.CANCELLED}


def to_history_row(row: Row) -> HistoryRow:
    """A GetHistory record as betguard's row: the payout only for a completed bet."""
    status = _STATUSES[row.betStatus]
    ended = None if status is ProviderStatus.PENDING or row.betEndTime is None else row.betEndTime
    return HistoryRow(
        row_id=str(row.betId),
        bet_ref=str(row.parentBetId),
        status=status,
        version=row.rowVersion,
        stake=row.betAmount,
        payout=row.winAmount if status is ProviderStatus.SETTLED else None,
        currency=row.currency,
        placed_at=from_millis(row.betTime),
        settled_at=None if ended is None else from_millis(ended),
    )


def from_millis(millis: int) -> datetime:
    """Milliseconds since the epoch, exactly (no float on the way)."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=millis)


def to_page(rows: list[HistoryRow], *, row_version: int, count: int) -> HistoryPage:
    """The next cursor is the highest version seen (the request's on an empty page); a
    full page means more is ready now."""
    top = max((row.version for row in rows), default=row_version)
    return HistoryPage(rows=rows, cursor=str(top), more=len(rows) == count)


def row_version_of(cursor: str | None) -> int:
    """The ``row_version`` a cursor stands for (None: from the start)."""
    if cursor is None:
        return 0
    if not (cursor.isascii() and cursor.isdigit() and len(cursor) <= 19) or \
            int(cursor) >= _INT64:
        raise ValueError(f"cursor {cursor[:40]!r} is not a GetHistory row version")
    return int(cursor)


# -- the adapter -------------------------------------------------------------------------


class PgSoftProvider:
    """A history-only provider speaking PG Soft's GetHistory."""

    def __init__(self, settings: ProviderClientSettings) -> None:
        name, secret, page_size = settings.name, settings.secret, settings.page_size
        given = dict(settings.options)
        unknown = sorted(set(given) - OPTIONS)
        if unknown:
            raise ValueError(f"provider {name}: unknown pgsoft option(s): {', '.join(unknown)} "
                             f"(known: {', '.join(sorted(OPTIONS))})")
        token = given.get("operator_token")
        if not isinstance(token, str) or not _OPERATOR_TOKEN.fullmatch(token):
            raise ValueError(f"provider {name}: option operator_token is required: letters, "
                             "digits and ._:- only, at most 128")
        if not secret:
            raise ValueError(f"provider {name}: the secret (secret_key) is required")
        if not MIN_PAGE <= page_size <= MAX_PAGE:
            raise ValueError(f"provider {name}: page_size must be {MIN_PAGE} to {MAX_PAGE} "
                             f"(GetHistory's count), not {page_size}")
        self.name = name
        self.supports_batch = False
        self.capabilities = frozenset({Capability.HISTORY})
        self.feeds: tuple[str, ...] = (FEED,)
        self._token = token
        self._secret = secret
        self._page_size = page_size
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
        content = self._client.call("POST", PATH, body, call=CALL, sign=self._sign).content
        rows = parse_rows(content, row_version=row_version, count=self._page_size,
                          provider=self.name)
        return to_page(rows, row_version=row_version, count=self._page_size)

    def _sign(self, path: str, body: bytes) -> dict[str, str]:
        return signed_headers(self._token, self._secret, path, body)
