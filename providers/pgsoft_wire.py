"""PG Soft on the wire: GetHistory and GetHistoryForSpecificTimeRange as PG serves them
(docs/providers/pgsoft.md; the adapter is ``betguard.providers.pgsoft``).

The call: ``POST <data-grabber host>/Bet/v4/GetHistory?trace_id=<uuid>`` with a form
body (``operator_token``, ``secret_key``, ``bet_type=1`` -- real-money bets --,
``row_version``, the cursor, and ``count``, 1500 to 5000). PG's history is served by
its data-grabber host (``.../external-datagrabber``), which is this provider's
``base_url``, configured apart from PG's API host (betguard calls nothing there).
Each call carries a new ``trace_id`` (a UUID), as every public client sends: it is in
the pull's log line and in every message about the call, so a call can be traced with
PG support. PG's optional hash authentication (option ``hash_salt_env``) adds::

    x-date: <UTC date, YYYYMMDD>
    x-content-sha256: <sha256 hex of the body>
    Authorization: PWS-HMAC-SHA256 Credential=<x-date>/<operator_token>/pws/v1,
                   SignedHeaders=host;x-content-sha256;x-date,Signature=<hex>
                   (one line, no spaces after the commas)
    Signature = hex(HMAC-SHA256(salt, host + x-content-sha256 + x-date))

Every answer is HTTP 200 with ``{"data": [...] | null, "error": null | {"code",
"message", "traceId"?}}``. Codes (:data:`ERROR_CODES`): 1034 invalid request, 1204
invalid operator are refusals (:class:`ProviderRejected`); 1200 internal error, 1035
action failed, 1303 server error and 1400 maintenance mean "later"
(:class:`ProviderUnavailable`); 3021 "bet does not exist" has no meaning for a
history call and, like every code not in the table, is an invalid answer: retried
within the deadline and counted (``betguard.providers.problems``), never a refusal.

Rows. One record (``betId``) is one *hand* of a round (``parentBetId``: a PG bet's
``bet_ref`` in betguard is its decimal string); a round with free spins has several.
``handsStatus`` says where it stands: 1 not the last hand, 2 the last hand, 3 adjusted.
A hand becomes a row with its ``hand`` (``betguard.models.domain.hands`` folds a round's hands
into one bet: final at its last hand, stake and payout the sums). Ids are 64-bit, read
as exact integers, amounts as :class:`~decimal.Decimal`. ``rowVersion`` (the record's
update time, ms) orders the feed; the boundary record comes again.

A row this adapter cannot take -- a field missing or malformed, a field outside PG's
public list (option ``unknown_fields``), a ``betType`` other than 1, a jackpot win (not
known to be inside ``winAmount``) -- is left out with a log line and a count, and the
rest of the page is used: nothing is decided on it, so its bet reaches its deadline
like any bet without a final row.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlencode, urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from betguard.models.domain.answers import Hand
from betguard.models.domain.times import from_millis
from betguard.providers.amounts import Currency, Money
from betguard.providers.base import HistoryPage, HistoryRow, ProviderStatus
from betguard.providers.errors import (
    ProviderError,
    ProviderInvalidResponse,
    ProviderRejected,
    ProviderUnavailable,
)
from betguard.providers.form_http import describe, invalid_answer, read_json
from betguard.providers.problems import Problem, ProblemReporter

PATH = "/Bet/v4/GetHistory"
CALL = "GetHistory"  # how messages name the call
WINDOW_PATH = "/Bet/v4/GetHistoryForSpecificTimeRange"
WINDOW_CALL = "GetHistoryForSpecificTimeRange"
MAX_WINDOW = timedelta(days=40)  # the time-range call's longest window
MIN_PAGE, MAX_PAGE = 1500, 5000
BET_TYPE_REAL = 1
AUTH_SCHEME = "PWS-HMAC-SHA256"
SIGNED_HEADERS = "host;x-content-sha256;x-date"
UNKNOWN_FIELDS = ("refuse", "ignore")
_INT64 = 2**63
_LATEST_MS = 253402300799999  # 9999-12-31T23:59:59.999Z: past it, no time betguard can hold

# code -> (meaning, what the caller should do); any other code is an invalid answer.
ERROR_CODES: dict[str, tuple[str, type[ProviderError]]] = {
    "1034": ("invalid request", ProviderRejected),
    "1204": ("invalid operator", ProviderRejected),
    "1035": ("action failed, try again later", ProviderUnavailable),
    "1200": ("internal server error, try again later", ProviderUnavailable),
    "1303": ("server error, try again later", ProviderUnavailable),
    "1400": ("under maintenance, try again later", ProviderUnavailable),
}

_HANDS = {1: Hand.NOT_LAST, 2: Hand.LAST, 3: Hand.ADJUSTED}


# -- the request -------------------------------------------------------------------------


def form_body(operator_token: str, secret: str, row_version: int, count: int) -> bytes:
    """The form-encoded body of a GetHistory request."""
    return urlencode([
        ("operator_token", operator_token),
        ("secret_key", secret),
        ("bet_type", str(BET_TYPE_REAL)),
        ("row_version", str(row_version)),
        ("count", str(count)),
    ]).encode("ascii")


def traced_path(trace_id: str, path: str = PATH) -> str:
    return f"{path}?{urlencode([('trace_id', trace_id)])}"


def window_body(operator_token: str, secret: str, from_ms: int, to_ms: int,
                count: int) -> bytes:
    """The form-encoded body of a GetHistoryForSpecificTimeRange request."""
    return urlencode([
        ("operator_token", operator_token),
        ("secret_key", secret),
        ("bet_type", str(BET_TYPE_REAL)),
        ("from_time", str(from_ms)),
        ("to_time", str(to_ms)),
        ("count", str(count)),
    ]).encode("ascii")


def hash_signature(salt: str, host: str, content_sha256: str, x_date: str) -> str:
    """hex HMAC-SHA256, keyed with the salt, of the host, the body's SHA-256 hex and the
    date, joined with nothing between them."""
    message = f"{host}{content_sha256}{x_date}".encode()
    return hmac.new(salt.encode("utf-8"), message, hashlib.sha256).hexdigest()


def hash_headers(operator_token: str, salt: str, url: str, body: bytes, *,
                 now: datetime | None = None) -> dict[str, str]:
    """The headers of PG's hash authentication for one request to ``url``."""
    moment = datetime.now(UTC) if now is None else now
    x_date = moment.astimezone(UTC).strftime("%Y%m%d")
    content = hashlib.sha256(body).hexdigest()
    host = urlsplit(url).netloc
    proof = hash_signature(salt, host, content, x_date)
    return {
        "x-date": x_date,
        "x-content-sha256": content,
        "Authorization": f"{AUTH_SCHEME} Credential={x_date}/{operator_token}/pws/v1,"
                         f"SignedHeaders={SIGNED_HEADERS},Signature={proof}",
    }


# -- the answer's strict models ----------------------------------------------------------


Id64 = Annotated[int, Field(ge=1, lt=_INT64)]
Millis = Annotated[int, Field(ge=0, le=_LATEST_MS)]

# Every field of a history record in PG's public field list (docs/providers/pgsoft.md).
PUBLIC_FIELDS = frozenset({
    "parentBetId", "betId", "playerName", "gameId", "betType", "transactionType",
    "platform", "currency", "betAmount", "winAmount", "jackpotRtpContributionAmount",
    "jackpotContributionAmount", "jackpotWinAmount", "balanceBefore", "balanceAfter",
    "handsStatus", "rowVersion", "betTime", "betEndTime", "isFeatureBuy"})


class Row(BaseModel):
    """One record (one hand) of GetHistory's ``data``: the fields betguard decides on
    are required and strict; the others are checked only for their type."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    betId: Id64  # noqa: N815 - the provider's field names
    parentBetId: Id64  # noqa: N815
    betType: Literal[1] | None = None  # noqa: N815
    transactionType: Literal[1, 2, 3] | None = None  # noqa: N815
    currency: Currency
    betAmount: Money  # noqa: N815
    winAmount: Money  # noqa: N815
    jackpotWinAmount: Money | None = None  # noqa: N815
    handsStatus: Literal[1, 2, 3]  # noqa: N815
    rowVersion: int = Field(ge=0, lt=_INT64)  # noqa: N815
    betTime: Millis  # noqa: N815
    betEndTime: Millis  # noqa: N815
    playerName: str | None = Field(default=None, max_length=200)  # noqa: N815
    gameId: int | None = Field(default=None, ge=0, lt=_INT64)  # noqa: N815

    @model_validator(mode="after")
    def _no_jackpot_win(self) -> Row:
        if self.jackpotWinAmount is not None and self.jackpotWinAmount != 0:
            raise ValueError("jackpotWinAmount: a jackpot win, not known to be inside "
                             "winAmount: the round goes to a person")
        return self


class ErrorBody(BaseModel):
    model_config = ConfigDict(strict=False, extra="ignore", frozen=True)

    code: str = Field(min_length=1, max_length=16)
    message: str = ""
    traceId: str | None = Field(default=None, max_length=200)  # noqa: N815

    @model_validator(mode="before")
    @classmethod
    def _code_as_text(cls, value: Any) -> Any:
        if isinstance(value, dict) and isinstance(value.get("code"), int) and \
                not isinstance(value.get("code"), bool):
            return {**value, "code": str(value["code"])}
        return value


class Envelope(BaseModel):
    """Every GetHistory answer: records, or an error, never both nor neither. The
    records are read one by one afterwards (:func:`parse_rows`)."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    data: list[Any] | None
    error: ErrorBody | None

    @model_validator(mode="after")
    def _one_of_data_or_error(self) -> Envelope:
        if (self.data is None) == (self.error is None):
            raise ValueError("exactly one of data and error must be given")
        return self


def _invalid(provider: str, problem: str, call: str = CALL) -> ProviderInvalidResponse:
    return invalid_answer(provider, call, problem)


def read_envelope(content: bytes, *, provider: str = "", call: str = CALL) -> Envelope:
    """The answer, validated; raises :class:`ProviderInvalidResponse` naming the problem."""
    decoded = read_json(content, provider=provider, call=call)
    try:
        return Envelope.model_validate(decoded)
    except ValidationError as exc:
        raise _invalid(provider, describe(exc), call) from None


def error_for(error: ErrorBody, *, provider: str = "", trace_id: str = "",
              report: ProblemReporter | None = None, call: str = CALL) -> ProviderError:
    """The exception an error in the body stands for; a code not in the table is an
    invalid answer (retried within the deadline), reported as a problem."""
    said = error.message[:200]
    traced = f" (trace_id {trace_id})" if trace_id else ""
    known = ERROR_CODES.get(error.code)
    if known is None:
        if report is not None:
            report(Problem.UNKNOWN_CODE, call, f"error code {error.code!r} ({said})",
                   trace_id=trace_id)
        return _invalid(provider, f"error: unknown code {error.code!r} ({said}){traced}", call)
    meaning, kind = known
    return kind(f"provider {provider}: {call} error {error.code} ({meaning}): {said}{traced}")


def parse_rows(content: bytes, *, row_version: int, count: int, provider: str = "",
               trace_id: str = "", unknown_fields: str = "refuse",
               report: ProblemReporter | None = None,
               call: str = CALL) -> tuple[list[HistoryRow], int, int]:
    """The page's rows in betguard's terms, the highest ``rowVersion`` listed and how
    many records it listed; or the exception the answer stands for.

    Beyond the envelope: no more records than asked for. Each record is read on its
    own: one that does not pass (:class:`Row`, the public field list, a version below
    the requested one) is left out and reported, and the others are used.
    """
    envelope = read_envelope(content, provider=provider, call=call)
    if envelope.error is not None:
        raise error_for(envelope.error, provider=provider, trace_id=trace_id, report=report,
                        call=call)
    records = envelope.data or []
    if len(records) > count:
        raise _invalid(provider, f"data: {len(records)} records, more than the {count} "
                       "asked for", call)
    rows: list[HistoryRow] = []
    top = row_version
    for i, record in enumerate(records):
        version = _version_of(record)
        if version is not None:
            top = max(top, version)
        problem = _problem_of(record, i, row_version, unknown_fields)
        if problem is None:
            try:
                rows.append(to_history_row(Row.model_validate(record), trace_id or None))
                continue
            except ValidationError as exc:
                problem = f"data.{i}, {describe(exc, 'record')}"
        if report is not None:
            report(_kind_of(record), call, f"{problem}{_naming(record)}", trace_id=trace_id)
    return rows, top, len(records)


def _problem_of(record: Any, i: int, row_version: int, unknown_fields: str) -> str | None:
    if not isinstance(record, dict):
        return f"data.{i}: not an object"
    if record.get("betType", BET_TYPE_REAL) != BET_TYPE_REAL:
        return f"data.{i}.betType: {str(record.get('betType'))[:20]}, not 1 (real money)"
    if unknown_fields == "refuse":
        unknown = sorted(str(key)[:40] for key in record if key not in PUBLIC_FIELDS)
        if unknown:
            return f"data.{i}: field(s) outside PG's public list: {', '.join(unknown[:5])}"
    version = _version_of(record)
    if version is not None and version < row_version:
        return f"data.{i}.rowVersion: {version} is below the requested {row_version}"
    return None


def _kind_of(record: Any) -> Problem:
    is_other = isinstance(record, dict) and record.get("betType", BET_TYPE_REAL) != BET_TYPE_REAL
    return Problem.OTHER_PRODUCT if is_other else Problem.ROW_REFUSED


def _version_of(record: Any) -> int | None:
    version = record.get("rowVersion") if isinstance(record, dict) else None
    if isinstance(version, int) and not isinstance(version, bool) and 0 <= version < _INT64:
        return version
    return None


def _naming(record: Any) -> str:
    """Which record it was, as far as it says."""
    if not isinstance(record, dict):
        return ""
    named = [f"{key} {str(record[key])[:24]}" for key in ("betId", "parentBetId")
             if key in record]
    return f" ({', '.join(named)})" if named else ""


def to_history_row(row: Row, trace_id: str | None = None) -> HistoryRow:
    """One hand as betguard's row: its own win is known with it; the round's status and
    sums come from folding its hands (``betguard.models.domain.hands``)."""
    hand = _HANDS[row.handsStatus]
    final = hand is not Hand.NOT_LAST
    return HistoryRow(
        row_id=str(row.betId),
        bet_ref=str(row.parentBetId),
        status=ProviderStatus.SETTLED if final else ProviderStatus.PENDING,
        version=row.rowVersion,
        stake=row.betAmount,
        payout=row.winAmount,
        currency=row.currency,
        placed_at=from_millis(row.betTime),
        settled_at=from_millis(row.betEndTime),
        hand=hand,
        trace_id=trace_id,
    )


def to_page(rows: list[HistoryRow], *, top: int, listed: int, count: int,
            trace_id: str | None = None) -> HistoryPage:
    """The next cursor is the highest version listed (the request's on an empty page),
    refused records included; a full page means more is ready now."""
    return HistoryPage(rows=rows, cursor=str(top), more=listed == count, trace_id=trace_id)


def row_version_of(cursor: str | None) -> int:
    """The ``row_version`` a cursor stands for (None: from the start, version 1)."""
    if cursor is None:
        return 1
    if not (cursor.isascii() and cursor.isdigit() and len(cursor) <= 19) or \
            int(cursor) >= _INT64:
        raise ValueError(f"cursor {cursor[:40]!r} is not a GetHistory row version")
    return int(cursor)
