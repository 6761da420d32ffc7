"""A Pragmatic Play-style provider: hash-signed form parameters, incomplete rounds,
cancelRound and a CSV feed of finished rounds per data domain.

Bets are rounds: betguard's ``bet_ref`` of this provider is ``<gameId>:<roundId>``
(e.g. ``vs20olympgate:8812345``; gameId of letters, digits and ``_``, roundId a positive
integer below 2^63 written without leading zeros).

Signing. Every call carries the operator's login (``secureLogin``; ``login`` on the feed)
and ``hash`` = lowercase hex MD5 of all the other parameters -- empty ones included --
sorted by key in plain string order, joined as ``k=v&k=v`` with the raw values (not
url-encoded), with the provider secret appended directly (no separator)
(:func:`request_hash`).

Answers are JSON ``{"error": <int>, "description": "<text>", ...}`` under HTTP 200. The
codes betguard knows (:data:`ERROR_CODES`): 2 bad parameters, 4 unknown login and 5
invalid hash are refusals (:class:`ProviderRejected`: repeating will not help); 7 too
many requests and 100 internal error mean "later" (:class:`ProviderUnavailable`). Two
codes only cancelRound gives a meaning to: 8 round not found and 120 round already
completed. Any other code, any body that is not this envelope, and any status but 200
(5xx: no answer, retried) is an invalid answer (:class:`ProviderInvalidResponse`):
nothing is believed before it passed the strict models below (docs/design.md,
invariant 8).

The calls:

* status -- ``POST .../CasinoGameAPI/getIncompleteRounds/`` (``secureLogin``,
  ``playerId``) lists the player's rounds without a result. Listed: PENDING. Not listed:
  UNKNOWN, since this answer cannot tell a finished round from one the provider never
  saw; the result of a finished round comes from the feed (the checks read its mirror).
* cancel -- ``POST .../CasinoGameAPI/cancelRound/`` (``secureLogin``, ``playerId``,
  ``gameId``, ``roundId``): 0 cancelled (a round not known yet is fenced), 120 the round
  has a result (FINISHED: its result comes from the feed), 8 not found (UNKNOWN, nothing
  fenced).
* history -- ``GET <domain>/IntegrationService/v3/DataFeeds/gamerounds/finished/``
  (``login``, ``timepoint``, ``dataType=RNG``): text whose first line is
  ``timepoint=<ms>`` (the next call's cursor), then a CSV header and one line per round
  that entered the feed at or after the requested timepoint (inclusive: the boundary
  row comes again). A domain called too often answers the JSON error 7 instead.

Domains. The finished rounds are split over data domains, each its own feed (option
``domains``, names of ``a-z``, digits and ``-``; default ``["main"]``). The domain
"main" is ``base_url`` itself, any other ``<base_url>/d/<name>``; a fallback URL
serves each domain at the same suffix. The status and cancel calls go to the API domain,
``base_url`` (then the fallback URLs while it gives no answer).

Rows. ``row_id`` is ``<gameID>:<playSessionID>`` (a record's own id, the same across
pulls); ``bet_ref`` is ``<gameID>:<parentSessionID>`` when the row names a parent round
(another record of that round: a second row for one bet) and ``<gameID>:<playSessionID>``
otherwise. Status ``C`` is SETTLED with ``win`` as the payout, ``X`` CANCELLED. The
``version`` is ``endDate`` in milliseconds: the provider re-finishes a round it corrects,
so a newer state of a row always has a later end.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

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
from betguard.providers.errors import ProviderError, ProviderRejected, ProviderUnavailable
from betguard.providers.form_http import Answer, FormHttpClient, describe, invalid_answer, read_json

API = "/IntegrationService/v3/http/CasinoGameAPI"
INCOMPLETE_PATH = f"{API}/getIncompleteRounds/"
CANCEL_PATH = f"{API}/cancelRound/"
FEED_PATH = "/IntegrationService/v3/DataFeeds/gamerounds/finished/"
MAIN = "main"
DATA_TYPE = "RNG"
OPTIONS = frozenset({"secure_login", "domains"})
COLUMNS = ("playerID", "extPlayerID", "gameID", "playSessionID", "parentSessionID",
           "startDate", "endDate", "status", "type", "bet", "win", "currency", "jackpot")
# A feed answer lists every round since the timepoint: allow a generous body.
MAX_RESPONSE_BYTES = 32 * 1024 * 1024
_INT64 = 2**63

OK = 0
ROUND_NOT_FOUND = 8
ROUND_COMPLETED = 120
# code -> (meaning, what the caller should do), for every call
ERROR_CODES: dict[int, tuple[str, type[ProviderError]]] = {
    2: ("bad parameters", ProviderRejected),
    4: ("unknown login", ProviderRejected),
    5: ("invalid hash", ProviderRejected),
    7: ("called too often, try again later", ProviderUnavailable),
    100: ("internal error, try again later", ProviderUnavailable),
}

_LOGIN = re.compile(r"[A-Za-z0-9._:@-]{1,128}")
_DOMAIN = re.compile(r"[a-z0-9-]{1,32}")
_GAME = re.compile(r"[A-Za-z0-9_]{1,64}")
_SESSION = re.compile(r"[1-9][0-9]{0,18}")
_MONEY = re.compile(r"(0|[1-9][0-9]{0,11})(\.[0-9]{1,4})?")
_DATE = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2})(\.[0-9]{1,3})?")
_TIMEPOINT = re.compile(r"timepoint=([0-9]{1,15})")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# -- signing and references --------------------------------------------------------------


def request_hash(params: Mapping[str, str], secret: str) -> str:
    """MD5 hex of the parameters but ``hash`` (empty ones too), sorted by key, joined as
    ``k=v&k=v``, with the secret appended directly."""
    joined = "&".join(f"{key}={params[key]}" for key in sorted(params) if key != "hash")
    return hashlib.md5((joined + secret).encode("utf-8"), usedforsecurity=False).hexdigest()


def signed(params: Mapping[str, str], secret: str) -> dict[str, str]:
    """The parameters with their ``hash``."""
    return {**params, "hash": request_hash(params, secret)}


def split_ref(bet_ref: str) -> tuple[str, str]:
    """(gameId, roundId) of a bet_ref; raises ValueError naming what is wrong."""
    game, sep, round_id = bet_ref.partition(":")
    if not sep or not _GAME.fullmatch(game):
        raise ValueError(f"bet_ref {bet_ref[:80]!r} is not <gameId>:<roundId> (gameId: "
                         "letters, digits and _, at most 64)")
    if not _SESSION.fullmatch(round_id) or int(round_id) >= _INT64:
        raise ValueError(f"bet_ref {bet_ref[:80]!r}: the roundId must be a positive integer "
                         "below 2^63 without leading zeros")
    return game, round_id


def domain_url(base: str, domain: str) -> str:
    """Where a data domain is served: "main" is the base URL itself."""
    return base if domain == MAIN else f"{base}/d/{domain}"


# -- the answers' strict models ----------------------------------------------------------


class Envelope(BaseModel):
    """Every JSON answer: an error code and its description. Extra keys are ignored."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    error: int = Field(ge=0, lt=10**6)
    description: str = Field(default="", max_length=4000)


class IncompleteRound(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    gameId: str = Field(pattern=r"^[A-Za-z0-9_]{1,64}$")  # noqa: N815 - the provider's names
    roundId: int = Field(ge=1, lt=_INT64)  # noqa: N815
    betAmount: Money | None = None  # noqa: N815
    currency: Currency | None = None


class IncompleteRounds(Envelope):
    data: list[IncompleteRound]


def _text_money(value: Any) -> Any:
    if isinstance(value, str):
        if not _MONEY.fullmatch(value):
            raise ValueError("should be an amount like 12.50 (ASCII digits, no sign, at most "
                             "4 decimals)")
        return Decimal(value)
    return value


def _text_session(value: Any) -> Any:
    if isinstance(value, str):
        if not _SESSION.fullmatch(value) or int(value) >= _INT64:
            raise ValueError("should be a positive integer below 2^63 without leading zeros")
        return int(value)
    return value


def _text_parent(value: Any) -> Any:
    return None if value == "" else _text_session(value)


def _text_date(value: Any) -> Any:
    if isinstance(value, str):
        found = _DATE.fullmatch(value)
        if found is None:
            raise ValueError("should be a UTC date like 2024-05-01 12:00:05.250")
        try:
            moment = datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        except ValueError:
            raise ValueError(f"{value!r} is no date") from None
        fraction = (found.group(2) or ".")[1:]
        return moment + timedelta(milliseconds=int(fraction.ljust(3, "0")))
    return value


CsvMoney = Annotated[Decimal, BeforeValidator(_text_money)]
Session = Annotated[int, BeforeValidator(_text_session)]
Parent = Annotated[int | None, BeforeValidator(_text_parent)]
Date = Annotated[datetime, BeforeValidator(_text_date)]


class FinishedRound(BaseModel):
    """One CSV line of the finished-rounds feed, by column name."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    playerID: str = Field(max_length=128)  # noqa: N815 - the provider's names
    extPlayerID: str = Field(max_length=128)  # noqa: N815
    gameID: str = Field(pattern=r"^[A-Za-z0-9_]{1,64}$")  # noqa: N815
    playSessionID: Session  # noqa: N815
    parentSessionID: Parent  # noqa: N815
    startDate: Date  # noqa: N815
    endDate: Date  # noqa: N815
    status: Literal["C", "X"]
    type: str = Field(pattern=r"^[A-Z]{1,4}$")
    bet: CsvMoney
    win: CsvMoney
    currency: Currency
    jackpot: CsvMoney

    @model_validator(mode="after")
    def _ends_after_it_starts(self) -> FinishedRound:
        if self.endDate < self.startDate:
            raise ValueError("endDate is before startDate")
        return self


def read_envelope(content: bytes, *, provider: str = "", call: str = "") -> Envelope:
    try:
        return Envelope.model_validate(read_json(content, provider=provider, call=call))
    except ValidationError as exc:
        raise invalid_answer(provider, call, describe(exc)) from None


def error_for(envelope: Envelope, *, provider: str = "", call: str = "") -> ProviderError:
    """The exception an error code stands for; a code betguard does not know (or one
    without a meaning for this call) is an invalid answer."""
    said = envelope.description[:200]
    known = ERROR_CODES.get(envelope.error)
    if known is None:
        return invalid_answer(provider, call, f"error: unexpected code {envelope.error} ({said})")
    meaning, kind = known
    return kind(f"provider {provider}: {call} error {envelope.error} ({meaning}): {said}")


def parse_incomplete(content: bytes, *, provider: str = "") -> list[IncompleteRound]:
    """The rounds of a getIncompleteRounds answer, or the exception it stands for."""
    call = "getIncompleteRounds"
    envelope = read_envelope(content, provider=provider, call=call)
    if envelope.error != OK:
        raise error_for(envelope, provider=provider, call=call)
    try:
        return IncompleteRounds.model_validate(
            read_json(content, provider=provider, call=call)).data
    except ValidationError as exc:
        raise invalid_answer(provider, call, describe(exc)) from None


def cancel_outcome(content: bytes, bet_ref: str, *, provider: str = "",
                   via: str | None = None) -> CancelOutcome:
    """What a cancelRound answer says about ``bet_ref``."""
    call = "cancelRound"
    envelope = read_envelope(content, provider=provider, call=call)
    if envelope.error == OK:
        return CancelOutcome(True, BetStatus(bet_ref, ProviderStatus.CANCELLED, via=via))
    if envelope.error == ROUND_COMPLETED:
        return CancelOutcome(False, BetStatus(bet_ref, ProviderStatus.FINISHED, via=via))
    if envelope.error == ROUND_NOT_FOUND:
        return CancelOutcome(False, BetStatus(bet_ref, ProviderStatus.UNKNOWN, via=via))
    raise error_for(envelope, provider=provider, call=call)


def parse_feed(content: bytes, *, timepoint: int, provider: str = "") -> tuple[int,
                                                                              list[HistoryRow]]:
    """The next timepoint and the rows of a finished-rounds answer, or the exception it
    stands for. Lines are numbered from 1 (the ``timepoint`` line)."""
    call = "gamerounds/finished"
    if content.lstrip()[:1] == b"{":
        envelope = read_envelope(content, provider=provider, call=call)
        if envelope.error == OK:
            raise invalid_answer(provider, call, "body: JSON without an error, not the CSV feed")
        raise error_for(envelope, provider=provider, call=call)
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise invalid_answer(provider, call, f"body: not UTF-8 ({exc})") from None
    first, _, rest = text.partition("\n")
    found = _TIMEPOINT.fullmatch(first.rstrip("\r"))
    if found is None:
        raise invalid_answer(provider, call, f"line 1: expected timepoint=<ms>, got {first[:60]!r}")
    following = int(found.group(1))
    if following < timepoint:
        raise invalid_answer(provider, call, f"line 1: timepoint {following} is before the "
                             f"requested {timepoint}")
    return following, _rows(rest, provider=provider, call=call)


def _rows(text: str, *, provider: str, call: str) -> list[HistoryRow]:
    if not text.strip():
        return []  # an empty feed may leave out the header
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
        missing = [column for column in COLUMNS if column not in header]
        if missing:
            raise invalid_answer(provider, call, f"line 2: the header lacks {', '.join(missing)}")
        if len(set(header)) != len(header):
            raise invalid_answer(provider, call, "line 2: the header repeats a column")
        rows = []
        for fields in reader:
            line = reader.line_num + 1
            if len(fields) != len(header):
                raise invalid_answer(provider, call, f"line {line}: {len(fields)} fields, the "
                                     f"header has {len(header)}")
            rows.append(_row(dict(zip(header, fields, strict=True)), line, provider, call))
    except csv.Error as exc:
        raise invalid_answer(provider, call,
                             f"line {reader.line_num + 1}: not CSV ({exc})") from None
    return rows


def _row(fields: dict[str, str], line: int, provider: str, call: str) -> HistoryRow:
    try:
        found = FinishedRound.model_validate(fields)
    except ValidationError as exc:
        raise invalid_answer(provider, call, f"line {line}, {describe(exc, 'endDate')}") from None
    return to_history_row(found)


def to_history_row(found: FinishedRound) -> HistoryRow:
    """A feed line as betguard's row (see the module's docstring)."""
    round_id = found.playSessionID if found.parentSessionID is None else found.parentSessionID
    settled = found.status == "C"
    return HistoryRow(
        row_id=f"{found.gameID}:{found.playSessionID}",
        bet_ref=f"{found.gameID}:{round_id}",
        status=ProviderStatus.SETTLED if settled else ProviderStatus.CANCELLED,
        version=millis(found.endDate),
        stake=found.bet,
        payout=found.win if settled else None,
        currency=found.currency,
        placed_at=found.startDate,
        settled_at=found.endDate,
    )


def millis(moment: datetime) -> int:
    """Milliseconds since the epoch, exactly (no float on the way)."""
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def timepoint_of(cursor: str | None) -> int:
    """The ``timepoint`` a cursor stands for (None: from the start)."""
    if cursor is None:
        return 0
    if not (cursor.isascii() and cursor.isdigit() and len(cursor) <= 15):
        raise ValueError(f"cursor {cursor[:40]!r} is not a feed timepoint (ms)")
    return int(cursor)


# -- the adapter -------------------------------------------------------------------------


def _options(name: str, options: Mapping[str, Any] | None) -> tuple[str, tuple[str, ...]]:
    """The secure login and the domains; raises ValueError naming what is wrong."""
    given = dict(options or {})
    unknown = sorted(set(given) - OPTIONS)
    if unknown:
        raise ValueError(f"provider {name}: unknown pragmatic option(s): {', '.join(unknown)} "
                         f"(known: {', '.join(sorted(OPTIONS))})")
    login = given.get("secure_login")
    if not isinstance(login, str) or not _LOGIN.fullmatch(login):
        raise ValueError(f"provider {name}: option secure_login is required: letters, digits "
                         "and ._:@- only, at most 128")
    domains = given.get("domains", [MAIN])
    if not isinstance(domains, list | tuple) or not domains or not all(
            isinstance(domain, str) and _DOMAIN.fullmatch(domain) for domain in domains):
        raise ValueError(f"provider {name}: option domains must be a non-empty list of "
                         "names of a-z, digits and - (\"main\" is the base URL itself)")
    if len(set(domains)) != len(domains):
        raise ValueError(f"provider {name}: option domains names a domain twice")
    return login, tuple(domains)


class PragmaticProvider:
    """A provider speaking Pragmatic's casino integration API: status, cancel, history."""

    def __init__(self, settings: ProviderClientSettings) -> None:
        """``settings.page_size`` is unused: Pragmatic's history has no page size, and
        nor is ``supports_batch``: there is no batch call, whatever the policy says."""
        name, secret = settings.name, settings.secret
        login, domains = _options(name, settings.options)
        if not secret:
            raise ValueError(f"provider {name}: the secret (the hash key) is required")
        self.name = name
        self.supports_batch = False  # there is no batch call, whatever the policy says
        self.capabilities = frozenset({Capability.STATUS, Capability.CANCEL, Capability.HISTORY})
        self.feeds: tuple[str, ...] = domains
        self._login = login
        self._secret = secret
        self._client = FormHttpClient(settings, max_response_bytes=MAX_RESPONSE_BYTES)

    def close(self) -> None:
        self._client.close()

    def get_status(self, bet_ref: str, player_id: str = "") -> BetStatus:
        """PENDING when the round is among the player's incomplete rounds, else UNKNOWN."""
        game, round_id = self._round(bet_ref)
        player = self._player(player_id, "getIncompleteRounds")
        answer = self._call("POST", INCOMPLETE_PATH,
                            {"secureLogin": self._login, "playerId": player})
        rounds = parse_incomplete(answer.content, provider=self.name)
        listed = any(item.gameId == game and str(item.roundId) == round_id for item in rounds)
        status = ProviderStatus.PENDING if listed else ProviderStatus.UNKNOWN
        return BetStatus(bet_ref, status, via=answer.via)

    def get_statuses(self, bet_refs: list[str]) -> dict[str, BetStatus]:
        raise ProviderRejected(f"provider {self.name}: Pragmatic has no batch status call")

    def cancel(self, bet_ref: str, player_id: str = "") -> CancelOutcome:
        game, round_id = self._round(bet_ref)
        player = self._player(player_id, "cancelRound")
        answer = self._call("POST", CANCEL_PATH, {
            "secureLogin": self._login, "playerId": player, "gameId": game, "roundId": round_id})
        return cancel_outcome(answer.content, bet_ref, provider=self.name, via=answer.via)

    def fetch_history(self, feed: str, cursor: str | None) -> HistoryPage:
        """The domain's rounds finished since ``cursor`` (inclusive: the boundary row comes
        again); everything since is in one answer, so ``more`` is False."""
        if feed not in self.feeds:
            raise ProviderRejected(f"provider {self.name}: no feed {feed!r} (its domains: "
                                   f"{', '.join(self.feeds)})")
        timepoint = timepoint_of(cursor)
        answer = self._call("GET", FEED_PATH, {
            "login": self._login, "timepoint": str(timepoint), "dataType": DATA_TYPE},
            bases=[domain_url(base, feed) for base in self._client.urls],
            accept="text/csv, application/json")
        following, rows = parse_feed(answer.content, timepoint=timepoint, provider=self.name)
        return HistoryPage(rows=rows, cursor=str(following), more=False)

    def _round(self, bet_ref: str) -> tuple[str, str]:
        try:
            return split_ref(bet_ref)
        except ValueError as exc:
            raise ProviderRejected(f"provider {self.name}: {exc}") from None

    def _player(self, player_id: str, call: str) -> str:
        if not player_id:
            raise ProviderRejected(f"provider {self.name}: {call} needs the bet's player")
        return player_id

    # -- transport -----------------------------------------------------------------------

    def _call(self, method: Literal["GET", "POST"], path: str, params: dict[str, str], *,
              bases: Sequence[str] | None = None, accept: str = "application/json") -> Answer:
        """The 200 answer to the call with the signed ``params``, from the first of
        ``bases`` (default: the API domain, then its fallbacks) that answers."""
        form = urlencode(signed(params, self._secret)).encode("ascii")
        return self._client.call(method, path, form, bases=bases, accept=accept)
