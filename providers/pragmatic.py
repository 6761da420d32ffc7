"""A Pragmatic Play provider: DataFeeds of finished and incomplete rounds per data host and
product, cancelRound, and the environments list that names the data hosts.

Every wire fact below, with its source and the option that changes it, is listed in
docs/providers/pragmatic.md; what no public source settles is marked there
"unconfirmed: our choice".

Bets and rounds. Pragmatic names rounds, not bets: its calls and feeds take
``gameId`` and ``roundId`` (the feed's ``playSessionID``), while its wallet calls carry
each bet's own ``reference``, and a round may hold several bets. So a bet's ``bet_ref``
is Pragmatic's per-bet ``reference`` (any reference betguard takes: its refund is keyed by
it, as Pragmatic's own ``refund`` is), and its round is ``<game_id>:<round_id>`` from the
bet's fields (:func:`round_ref`, e.g. ``vs20olympgate:8812345``; gameId of letters,
digits and ``_``, roundId a positive integer below 2^63 written without leading zeros):
every call here is given that round (docs/design.md, "Bets and rounds").

Authentication. DataFeeds calls carry ``login`` (the secure login) and ``password`` (the
secret key) in the query string, no hash; the transport keeps the password out of every
message (``redact``). The http API calls (``CasinoGameAPI``, ``SystemAPI``) carry
``secureLogin`` and ``hash`` = lowercase hex MD5 of the other parameters sorted by key in
plain string order, joined as ``k=v&k=v``, with the secret appended directly
(:func:`request_hash`). Option ``hash_values``: ``"raw"`` (default) or ``"urlencoded"``
values in the hashed text; option ``empty_params``: ``"omit"`` (default: an empty
parameter is neither sent nor hashed) or ``"hash"`` (sent and hashed).

Answers to JSON calls are ``{"error": <code>, "description": "<text>", ...}`` under HTTP
200, the code a JSON integer or a string of digits (both are seen). The codes
(:data:`ERROR_CODES`): 2 player not found, 4 authentication failed, 5 invalid hash, 7 bad
parameters, 8 game not found or disabled and 120 internal error without retry are
refusals (:class:`ProviderRejected`: asking again at once will not help); 100 internal
error means "later" (:class:`ProviderUnavailable`). Any other code (17 included) is an
invalid answer (:class:`ProviderInvalidResponse`, a provider error retried until the
bet's deadline, never a refusal that refunds), logged and counted as
``Problem.UNKNOWN_CODE``. A body that is not this envelope, and any status but 200 (5xx:
no answer, retried), is an invalid answer: nothing is believed before it passed the
strict models below (docs/design.md, invariant 8).

The calls:

* status -- ``GET <data host>/IntegrationService/v3/DataFeeds/gamerounds/incomplete/``
  (``login``, ``password``, ``playerId`` = the bet's player, ``dataType``, ``timepoint`` =
  now in ms) lists the player's rounds without a result as ``data: [{"gameId",
  "playSessionID", "betAmount"}]``. Asked of each data host, for each data type, until
  the round is listed. Listed: PENDING. Listed nowhere: UNKNOWN, since this answer
  cannot tell a finished round from one the provider never saw; the result of a finished
  round comes from the feed (the checks read its mirror).
* cancel -- ``POST <base_url>/IntegrationService/v3/http/CasinoGameAPI/cancelRound``
  (``externalPlayerId``, ``gameId``, ``roundId``, ``secureLogin``, ``hash``): 0 cancelled
  (a round not known yet is fenced). Option ``cancel_codes`` says what other codes mean
  for this call, either ``"finished"`` (the round has a result: it comes from the feed)
  or ``"not_fenced"`` (nothing cancelled, nothing fenced: a person decides); default
  ``{"120": "finished", "8": "not_fenced"}``. Neither refunds.
* history -- ``GET <data host>/IntegrationService/v3/DataFeeds/gamerounds/finished/``
  (``login``, ``password``, ``timepoint``, ``dataType``): text whose first line is
  ``timepoint=<ms>`` (the next call's cursor), then a CSV header and one line per round.
  Each (data host, data type) is one feed. The call asks from the cursor less option
  ``timepoint_overlap_ms`` (default 1000): whether the provider's boundary is inclusive is
  not documented, and a row read twice changes nothing. The cursor never moves back.
* environments -- ``GET <base_url>/IntegrationService/v3/http/SystemAPI/environments``
  (``secureLogin``, ``hash``): ``{"environments": [{"envName", "apiDomain"}]}``, the
  hosts the rounds are spread over (:meth:`PragmaticProvider.list_environments`). How
  to find the value of option ``environments``; betguard does not call it on its own.

Data hosts and products. Option ``data_types`` (default ``["RNG"]``) names the products in
use (``RNG`` slots, ``LC`` live casino, ...); option ``environments`` maps each
environment's name to its data host URL (``https://<apiDomain>``, or a list: the host,
then its fallbacks), using ``base_url``'s scheme. Without it the one data host is
``base_url`` with its ``fallback_urls``, and the feeds are named by data type (``"RNG"``);
with it, ``"<env>/<dataType>"``. cancelRound and the environments list go to ``base_url``
(then the fallback URLs while it gives no answer).

Rows. A row is read on its own: one that fails its model (an unknown status, a missing or
malformed field, the wrong number of fields) or that is not a round of the feed's kind
(``type`` not among option ``round_types``, default ``["R", "F"]``) is skipped -- logged
naming the provider, the call, the line and the field, and counted
(``Problem.ROW_REFUSED``, ``Problem.OTHER_PRODUCT``) -- and the rest of the page is used.
Nothing is decided on a skipped row: its bet waits like any bet without a final row.
Status ``C`` is SETTLED with ``win`` as the payout, ``V`` (void) CANCELLED, ``I`` (in
progress) PENDING, not final; a row with a jackpot win is refused unless option
``jackpot`` says how it is paid (``"in_win"``: ``win`` includes it, ``"added"``: payout is
``win`` + ``jackpot``; default ``"refuse"``). ``row_id`` is
``<gameID>:<playSessionID>``; ``bet_ref`` is ``<gameID>:<parentSessionID>`` when the row
names another round as its parent (the round its free spins came from) and
``<gameID>:<playSessionID>`` otherwise (``parentSessionID`` empty, ``null`` or the
round itself). ``version`` is 2 x ``endDate`` in ms, plus 1 for a final row (an ``I``
row without ``endDate`` uses ``startDate``): the provider re-finishes a round it
corrects, so a newer state of a row has a later end, and a round's final state
outranks its in-progress state of the same millisecond.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal
from urllib.parse import quote_plus, urlencode, urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from betguard.models.times import to_millis
from betguard.providers.amounts import Currency, json_number
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
from betguard.providers.problems import Problem, ProblemReporter

HTTP_API = "/IntegrationService/v3/http"
CANCEL_PATH = f"{HTTP_API}/CasinoGameAPI/cancelRound"
ENVIRONMENTS_PATH = f"{HTTP_API}/SystemAPI/environments"
DATA_FEEDS = "/IntegrationService/v3/DataFeeds"
FEED_PATH = f"{DATA_FEEDS}/gamerounds/finished/"
INCOMPLETE_PATH = f"{DATA_FEEDS}/gamerounds/incomplete/"
COLUMNS = ("playerID", "extPlayerID", "gameID", "playSessionID", "parentSessionID",
           "startDate", "endDate", "status", "type", "bet", "win", "currency", "jackpot")
# A feed answer lists every round since the timepoint: allow a generous body.
MAX_RESPONSE_BYTES = 32 * 1024 * 1024
_INT64 = 2**63

OK = 0
# code -> (meaning, what the caller should do), for every call
ERROR_CODES: dict[int, tuple[str, type[ProviderError]]] = {
    2: ("player not found", ProviderRejected),
    4: ("authentication failed", ProviderRejected),
    5: ("invalid hash", ProviderRejected),
    7: ("bad parameters", ProviderRejected),
    8: ("game not found or disabled", ProviderRejected),
    100: ("internal error, try again later", ProviderUnavailable),
    120: ("internal error, not to be retried", ProviderRejected),
}
CancelMeaning = Literal["finished", "not_fenced"]
DEFAULT_CANCEL_CODES: dict[int, CancelMeaning] = {120: "finished", 8: "not_fenced"}

_LOGIN = r"^[A-Za-z0-9._:@-]{1,128}$"
_ENV = re.compile(r"[A-Za-z0-9._-]{1,64}")
_DATA_TYPE = re.compile(r"[A-Z0-9]{1,8}")
_GAME = re.compile(r"[A-Za-z0-9_]{1,64}")
_SESSION = re.compile(r"[1-9][0-9]{0,18}")
_CODE = re.compile(r"0|[1-9][0-9]{0,5}")
_MONEY = re.compile(r"(0|[1-9][0-9]{0,11})(\.[0-9]{1,4})?")
_DATE = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2})(\.[0-9]{1,3})?")
_TIMEPOINT = re.compile(r"timepoint=([0-9]{1,15})")
_API_DOMAIN = re.compile(r"[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?(/[A-Za-z0-9._/-]{0,200})?")


# -- options -------------------------------------------------------------------------------


class Options(BaseModel):
    """The adapter's ``options`` (module docstring; docs/providers/pragmatic.md)."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    secure_login: str = Field(pattern=_LOGIN)
    data_types: list[str] = Field(default_factory=lambda: ["RNG"], min_length=1)
    environments: dict[str, str | list[str]] | None = None
    round_types: list[str] = Field(default_factory=lambda: ["R", "F"], min_length=1)
    timepoint_overlap_ms: int = Field(default=1000, ge=0, le=3_600_000)
    hash_values: Literal["raw", "urlencoded"] = "raw"
    empty_params: Literal["omit", "hash"] = "omit"
    cancel_codes: dict[str, CancelMeaning] = Field(
        default_factory=lambda: {str(code): meaning
                                 for code, meaning in DEFAULT_CANCEL_CODES.items()})
    jackpot: Literal["refuse", "in_win", "added"] = "refuse"

    @field_validator("data_types", "round_types")
    @classmethod
    def _names(cls, names: list[str]) -> list[str]:
        if not all(_DATA_TYPE.fullmatch(name) for name in names):
            raise ValueError("each must be 1 to 8 of A-Z and digits (e.g. RNG, LC)")
        if len(set(names)) != len(names):
            raise ValueError("names one twice")
        return names

    @field_validator("environments")
    @classmethod
    def _environments(cls, given: dict[str, str | list[str]] | None) -> Any:
        if given is None:
            return None
        if not given:
            raise ValueError("names no environment (leave it out to use base_url)")
        for name, urls in given.items():
            if not _ENV.fullmatch(name):
                raise ValueError(f"environment {name[:70]!r}: a name of letters, digits and "
                                 "._- (as envName), at most 64")
            listed = [urls] if isinstance(urls, str) else urls
            if not listed or not all(_is_url(url) for url in listed):
                raise ValueError(f"environment {name}: a data host URL (http(s)://host) or a "
                                 "non-empty list of them, without query or credentials")
        return given

    @field_validator("cancel_codes")
    @classmethod
    def _cancel_codes(cls, given: dict[str, CancelMeaning]) -> dict[str, CancelMeaning]:
        for code in given:
            if not _CODE.fullmatch(code) or code == "0":
                raise ValueError(f"code {code[:20]!r}: a non-zero code (0 is the accepted "
                                 "cancel)")
        return given

    def cancel_meanings(self) -> dict[int, CancelMeaning]:
        return {int(code): meaning for code, meaning in self.cancel_codes.items()}


def _is_url(url: Any) -> bool:
    if not isinstance(url, str):
        return False
    parts = urlsplit(url)
    return (parts.scheme in ("http", "https") and bool(parts.hostname) and not parts.query
            and not parts.fragment and parts.username is None)


def _options(name: str, options: Mapping[str, Any] | None) -> Options:
    """The adapter's options; raises ValueError naming what is wrong."""
    given = dict(options or {})
    known = sorted(Options.model_fields)
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise ValueError(f"provider {name}: unknown pragmatic option(s): {', '.join(unknown)} "
                         f"(known: {', '.join(known)})")
    if "secure_login" not in given:
        raise ValueError(f"provider {name}: option secure_login is required: letters, digits "
                         "and ._:@- only, at most 128")
    try:
        return Options.model_validate(given)
    except ValidationError as exc:
        raise ValueError(f"provider {name}: option {describe(exc, 'options')}") from None


# -- signing and references --------------------------------------------------------------


def request_hash(params: Mapping[str, str], secret: str, *,
                 values: Literal["raw", "urlencoded"] = "raw") -> str:
    """MD5 hex of the parameters but ``hash``, sorted by key, joined as ``k=v&k=v`` (the
    values raw or url-encoded), with the secret appended directly."""
    encode: Callable[[str], str] = (lambda value: value) if values == "raw" else quote_plus
    joined = "&".join(f"{key}={encode(params[key])}" for key in sorted(params) if key != "hash")
    return hashlib.md5((joined + secret).encode("utf-8"), usedforsecurity=False).hexdigest()


def signed(params: Mapping[str, str], secret: str, *,
           values: Literal["raw", "urlencoded"] = "raw",
           empty: Literal["omit", "hash"] = "omit") -> dict[str, str]:
    """The parameters to send, with their ``hash`` (empty ones left out under "omit")."""
    sent = {key: value for key, value in params.items() if value or empty == "hash"}
    return {**sent, "hash": request_hash(sent, secret, values=values)}


def round_ref(game_id: str, round_id: str) -> str:
    """The round of a bet, as Pragmatic names it: ``<gameId>:<roundId>``. Raises
    :class:`RoundFieldError` naming the bet's field that is wrong."""
    if not _GAME.fullmatch(game_id):
        raise RoundFieldError("game_id", f"{game_id[:80]!r} is not a Pragmatic gameId "
                              "(letters, digits and _, at most 64)")
    if not _SESSION.fullmatch(round_id) or int(round_id) >= _INT64:
        raise RoundFieldError("round_id", f"{round_id[:80]!r} is not a Pragmatic roundId (a "
                              "positive integer below 2^63 without leading zeros)")
    return f"{game_id}:{round_id}"


class RoundFieldError(ValueError):
    """A bet's field that cannot name its provider's round."""

    def __init__(self, field: str, message: str) -> None:
        self.field, self.message = field, message
        super().__init__(f"{field}: {message}")


def split_ref(bet_ref: str) -> tuple[str, str]:
    """(gameId, roundId) of a round's ref; raises ValueError naming what is wrong."""
    game, sep, round_id = bet_ref.partition(":")
    if not sep or not _GAME.fullmatch(game):
        raise ValueError(f"bet_ref {bet_ref[:80]!r} is not <gameId>:<roundId> (gameId: "
                         "letters, digits and _, at most 64)")
    if not _SESSION.fullmatch(round_id) or int(round_id) >= _INT64:
        raise ValueError(f"bet_ref {bet_ref[:80]!r}: the roundId must be a positive integer "
                         "below 2^63 without leading zeros")
    return game, round_id


# -- the answers' strict models ----------------------------------------------------------


def _code(value: Any) -> Any:
    """An error code: a JSON integer or a string of digits (both are sent)."""
    if isinstance(value, str):
        if not _CODE.fullmatch(value):
            raise ValueError("should be an error code: an integer or a string of digits")
        return int(value)
    return value


def _text_money(value: Any) -> Any:
    if isinstance(value, str):
        if not _MONEY.fullmatch(value):
            raise ValueError("should be an amount like 12.50 (ASCII digits, no sign, at most "
                             "4 decimals)")
        return Decimal(value)
    return value


def _any_money(value: Any) -> Any:
    return _text_money(value) if isinstance(value, str) else json_number(value)


def _text_session(value: Any) -> Any:
    if isinstance(value, str):
        if not _SESSION.fullmatch(value) or int(value) >= _INT64:
            raise ValueError("should be a positive integer below 2^63 without leading zeros")
        return int(value)
    return value


def _text_parent(value: Any) -> Any:
    return None if value in ("", "null") else _text_session(value)


def _text_date(value: Any) -> Any:
    if isinstance(value, str):
        found = _DATE.fullmatch(value)
        if found is None:
            raise ValueError("should be a UTC date like 2024-05-01 12:00:05 (.250 optional)")
        try:
            moment = datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        except ValueError:
            raise ValueError(f"{value!r} is no date") from None
        fraction = (found.group(2) or ".")[1:]
        return moment + timedelta(milliseconds=int(fraction.ljust(3, "0")))
    return value


def _text_end(value: Any) -> Any:
    return None if value == "" else _text_date(value)


_Amount = Field(ge=0, lt=10**12, decimal_places=4, allow_inf_nan=False)
Code = Annotated[int, BeforeValidator(_code), Field(ge=0, lt=10**6)]
CsvMoney = Annotated[Decimal, BeforeValidator(_text_money)]
AnyMoney = Annotated[Decimal, BeforeValidator(_any_money), _Amount]
Session = Annotated[int, BeforeValidator(_text_session), Field(ge=1, lt=_INT64)]
Parent = Annotated[int | None, BeforeValidator(_text_parent)]
Date = Annotated[datetime, BeforeValidator(_text_date)]
EndDate = Annotated[datetime | None, BeforeValidator(_text_end)]


class Envelope(BaseModel):
    """Every JSON answer: an error code and its description. Extra keys are ignored."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    error: Code
    description: str = Field(default="", max_length=4000)


class IncompleteRound(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    gameId: str = Field(pattern=r"^[A-Za-z0-9_]{1,64}$")  # noqa: N815 - the provider's names
    playSessionID: Session  # noqa: N815
    betAmount: AnyMoney | None = None  # noqa: N815


class Incomplete(Envelope):
    data: list[Any] = Field(max_length=100_000)


class Environment(BaseModel):
    """One entry of the environments list."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    envName: str = Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")  # noqa: N815
    apiDomain: str = Field(max_length=300)  # noqa: N815

    @field_validator("apiDomain")
    @classmethod
    def _a_host(cls, value: str) -> str:
        if not _API_DOMAIN.fullmatch(value):
            raise ValueError("should be a host name (with an optional port)")
        return value


class Environments(Envelope):
    environments: list[Environment] = Field(max_length=1000)


class FinishedRound(BaseModel):
    """One CSV line of the finished-rounds feed, by column name."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    playerID: str = Field(max_length=128)  # noqa: N815 - the provider's names
    extPlayerID: str = Field(max_length=128)  # noqa: N815
    gameID: str = Field(pattern=r"^[A-Za-z0-9_]{1,64}$")  # noqa: N815
    playSessionID: Session  # noqa: N815
    parentSessionID: Parent  # noqa: N815
    startDate: Date  # noqa: N815
    endDate: EndDate  # noqa: N815
    status: Literal["C", "I", "V"]
    type: str = Field(pattern=r"^[A-Z0-9]{1,4}$")
    bet: CsvMoney
    win: CsvMoney
    currency: Currency
    jackpot: CsvMoney

    @model_validator(mode="after")
    def _ends_after_it_starts(self) -> FinishedRound:
        if self.endDate is None:
            if self.status != "I":
                raise ValueError(f"endDate is empty in a row of status {self.status}")
        elif self.endDate < self.startDate:
            raise ValueError("endDate is before startDate")
        return self


@dataclass(frozen=True)
class Reading:
    """How to read rows: the options that shape them and where to report a refused one."""

    round_types: tuple[str, ...] = ("R", "F")
    jackpot: Literal["refuse", "in_win", "added"] = "refuse"
    report: ProblemReporter | None = None

    def refuse(self, problem: Problem, call: str, what: str) -> None:
        if self.report is not None:
            self.report(problem, call, what)


def read_envelope(content: bytes, *, provider: str = "", call: str = "") -> Envelope:
    try:
        return Envelope.model_validate(read_json(content, provider=provider, call=call))
    except ValidationError as exc:
        raise invalid_answer(provider, call, describe(exc)) from None


def error_for(envelope: Envelope, *, provider: str = "", call: str = "",
              report: ProblemReporter | None = None) -> ProviderError:
    """The exception an error code stands for; a code betguard does not know is an
    invalid answer (retried within the deadline), reported as an unknown code."""
    said = envelope.description[:200]
    known = ERROR_CODES.get(envelope.error)
    if known is None:
        if report is not None:
            report(Problem.UNKNOWN_CODE, call, f"error: code {envelope.error} ({said})")
        return invalid_answer(provider, call, f"error: unexpected code {envelope.error} ({said})")
    meaning, kind = known
    return kind(f"provider {provider}: {call} error {envelope.error} ({meaning}): {said}")


def parse_incomplete(content: bytes, *, provider: str = "", call: str = "gamerounds/incomplete",
                     report: ProblemReporter | None = None) -> list[IncompleteRound]:
    """The rounds of an incomplete-rounds answer, or the exception it stands for. An
    entry that fails its model is skipped and reported; the others are used."""
    envelope = read_envelope(content, provider=provider, call=call)
    if envelope.error != OK:
        raise error_for(envelope, provider=provider, call=call, report=report)
    try:
        listed = Incomplete.model_validate(read_json(content, provider=provider, call=call))
    except ValidationError as exc:
        raise invalid_answer(provider, call, describe(exc)) from None
    rounds = []
    for number, entry in enumerate(listed.data):
        try:
            rounds.append(IncompleteRound.model_validate(entry))
        except ValidationError as exc:
            if report is not None:
                report(Problem.ROW_REFUSED, call, f"data.{number}, {describe(exc, 'entry')}")
    return rounds


def parse_environments(content: bytes, *, provider: str = "",
                       report: ProblemReporter | None = None) -> list[Environment]:
    call = "SystemAPI/environments"
    envelope = read_envelope(content, provider=provider, call=call)
    if envelope.error != OK:
        raise error_for(envelope, provider=provider, call=call, report=report)
    try:
        return Environments.model_validate(
            read_json(content, provider=provider, call=call)).environments
    except ValidationError as exc:
        raise invalid_answer(provider, call, describe(exc)) from None


def cancel_outcome(content: bytes, bet_ref: str, *, provider: str = "",
                   via: str | None = None,
                   meanings: Mapping[int, CancelMeaning] = DEFAULT_CANCEL_CODES,
                   report: ProblemReporter | None = None) -> CancelOutcome:
    """What a cancelRound answer says about ``bet_ref``."""
    call = "cancelRound"
    envelope = read_envelope(content, provider=provider, call=call)
    if envelope.error == OK:
        return CancelOutcome(True, BetStatus(bet_ref, ProviderStatus.CANCELLED, via=via))
    meaning = meanings.get(envelope.error)
    if meaning == "finished":
        return CancelOutcome(False, BetStatus(bet_ref, ProviderStatus.FINISHED, via=via))
    if meaning == "not_fenced":
        return CancelOutcome(False, BetStatus(bet_ref, ProviderStatus.UNKNOWN, via=via))
    raise error_for(envelope, provider=provider, call=call, report=report)


def parse_feed(content: bytes, *, timepoint: int, provider: str = "",
               call: str = "gamerounds/finished",
               reading: Reading = Reading()) -> tuple[int, list[HistoryRow]]:
    """The next timepoint and the rows of a finished-rounds answer, or the exception it
    stands for. Lines are numbered from 1 (the ``timepoint`` line). A row that cannot be
    taken is skipped and reported (``reading``); the others are used."""
    if content.lstrip()[:1] == b"{":
        envelope = read_envelope(content, provider=provider, call=call)
        if envelope.error == OK:
            raise invalid_answer(provider, call, "body: JSON without an error, not the CSV feed")
        raise error_for(envelope, provider=provider, call=call, report=reading.report)
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
    return following, _rows(rest, provider=provider, call=call, reading=reading)


def _rows(text: str, *, provider: str, call: str, reading: Reading) -> list[HistoryRow]:
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
            if not fields:
                continue  # a blank line holds no row
            if len(fields) != len(header):
                reading.refuse(Problem.ROW_REFUSED, call, f"line {line}: {len(fields)} fields, "
                               f"the header has {len(header)}")
                continue
            row = _row(dict(zip(header, fields, strict=True)), line, call, reading)
            if row is not None:
                rows.append(row)
    except csv.Error as exc:  # the quoting is broken: no line after it can be trusted
        raise invalid_answer(provider, call,
                             f"line {reader.line_num + 1}: not CSV ({exc})") from None
    return rows


def _row(fields: dict[str, str], line: int, call: str, reading: Reading) -> HistoryRow | None:
    try:
        found = FinishedRound.model_validate(fields)
    except ValidationError as exc:
        reading.refuse(Problem.ROW_REFUSED, call, f"line {line}, {describe(exc, 'endDate')}")
        return None
    if found.type not in reading.round_types:
        reading.refuse(Problem.OTHER_PRODUCT, call, f"line {line}, type: {found.type!r} is not "
                       f"a round of this feed ({', '.join(reading.round_types)})")
        return None
    if found.jackpot and found.status == "C" and reading.jackpot == "refuse":
        reading.refuse(Problem.ROW_REFUSED, call, f"line {line}, jackpot: a jackpot win of "
                       f"{found.jackpot} (option jackpot says whether win includes it)")
        return None
    return to_history_row(found, jackpot=reading.jackpot)


STATUSES = {"C": ProviderStatus.SETTLED, "V": ProviderStatus.CANCELLED,
            "I": ProviderStatus.PENDING}


def to_history_row(found: FinishedRound, *,
                   jackpot: Literal["refuse", "in_win", "added"] = "refuse") -> HistoryRow:
    """A feed line as betguard's row (see the module's docstring)."""
    parent = found.parentSessionID
    round_id = found.playSessionID if parent is None else parent
    status = STATUSES[found.status]
    final = found.status != "I"
    moment = found.endDate or found.startDate
    payout = found.win + (found.jackpot if jackpot == "added" else 0)
    return HistoryRow(
        row_id=f"{found.gameID}:{found.playSessionID}",
        bet_ref=f"{found.gameID}:{round_id}",
        status=status,
        version=2 * to_millis(moment) + (1 if final else 0),
        stake=found.bet,
        payout=payout if status is ProviderStatus.SETTLED else None,
        currency=found.currency,
        placed_at=found.startDate,
        settled_at=found.endDate if final else None,
    )


def timepoint_of(cursor: str | None) -> int:
    """The ``timepoint`` a cursor stands for (None: from the start)."""
    if cursor is None:
        return 0
    if not (cursor.isascii() and cursor.isdigit() and len(cursor) <= 15):
        raise ValueError(f"cursor {cursor[:40]!r} is not a feed timepoint (ms)")
    return int(cursor)


# -- the adapter -------------------------------------------------------------------------


@dataclass(frozen=True)
class Feed:
    """One feed: a data host (its URLs, fallbacks after the first) and a data type."""

    name: str
    urls: tuple[str, ...]
    data_type: str


def feeds_of(options: Options, base_urls: Sequence[str], *, name: str = "") -> tuple[Feed, ...]:
    """Every (data host, data type) of the options; raises ValueError naming what is
    wrong (an environment URL of another scheme than ``base_url``'s)."""
    if options.environments is None:
        return tuple(Feed(data_type, tuple(base_urls), data_type)
                     for data_type in options.data_types)
    scheme = urlsplit(base_urls[0]).scheme
    feeds: list[Feed] = []
    for env, given in options.environments.items():
        urls = tuple(url.rstrip("/") for url in ([given] if isinstance(given, str) else given))
        if any(urlsplit(url).scheme != scheme for url in urls):
            raise ValueError(f"provider {name}: option environments: environment {env}: its "
                             f"URLs must use base_url's scheme ({scheme})")
        feeds.extend(Feed(f"{env}/{data_type}", urls, data_type)
                     for data_type in options.data_types)
    return tuple(feeds)


class PragmaticProvider:
    """A provider speaking Pragmatic's casino integration API: status, cancel, history."""

    def __init__(self, settings: ProviderClientSettings) -> None:
        """``settings.page_size`` is unused: Pragmatic's history has no page size, and
        nor is ``supports_batch``: there is no batch call, whatever the policy says."""
        name, secret = settings.name, settings.secret
        options = _options(name, settings.options)
        if not secret:
            raise ValueError(f"provider {name}: the secret (the hash key) is required")
        self.name = name
        self.supports_batch = False  # there is no batch call, whatever the policy says
        self.capabilities = frozenset({Capability.STATUS, Capability.CANCEL, Capability.HISTORY})
        self._options = options
        self._secret = secret
        self._client = FormHttpClient(settings, max_response_bytes=MAX_RESPONSE_BYTES)
        self._feeds = {feed.name: feed for feed in feeds_of(options, self._client.urls,
                                                            name=name)}
        self.feeds: tuple[str, ...] = tuple(self._feeds)
        self._report = ProblemReporter(name, settings.report_problem)
        self._reading = Reading(tuple(options.round_types), options.jackpot, self._report)
        self._cancel_meanings = options.cancel_meanings()

    def close(self) -> None:
        self._client.close()

    def get_status(self, bet_ref: str, player_id: str = "") -> BetStatus:
        """PENDING when a data host lists the round among the player's incomplete rounds
        of a data type in use, else UNKNOWN."""
        game, round_id = self._round(bet_ref)
        player = self._player(player_id, "gamerounds/incomplete")
        via = None
        for feed in self._feeds.values():
            params = {"login": self._options.secure_login, "password": self._secret,
                      "playerId": player, "dataType": feed.data_type,
                      "timepoint": str(int(time.time() * 1000))}
            answer = self._feed_call(INCOMPLETE_PATH, params, feed, accept="application/json")
            via = answer.via
            rounds = parse_incomplete(answer.content, provider=self.name,
                                      call=f"gamerounds/incomplete {feed.name}",
                                      report=self._report)
            if any(item.gameId == game and str(item.playSessionID) == round_id
                   for item in rounds):
                return BetStatus(bet_ref, ProviderStatus.PENDING, via=via)
        return BetStatus(bet_ref, ProviderStatus.UNKNOWN, via=via)

    def get_statuses(self, bet_refs: list[str]) -> dict[str, BetStatus]:
        raise ProviderRejected(f"provider {self.name}: Pragmatic has no batch status call")

    def cancel(self, bet_ref: str, player_id: str = "") -> CancelOutcome:
        game, round_id = self._round(bet_ref)
        player = self._player(player_id, "cancelRound")
        answer = self._api_call("POST", CANCEL_PATH, {
            "externalPlayerId": player, "gameId": game, "roundId": round_id,
            "secureLogin": self._options.secure_login})
        return cancel_outcome(answer.content, bet_ref, provider=self.name, via=answer.via,
                              meanings=self._cancel_meanings, report=self._report)

    def fetch_history_window(self, start: datetime, end: datetime) -> HistoryPage:
        raise ProviderRejected(f"provider {self.name}: Pragmatic's feeds are read by "
                               "timepoint only, not by a time window")

    def fetch_history(self, feed: str, cursor: str | None) -> HistoryPage:
        """The feed's rounds since ``cursor`` (less the overlap: rows at the boundary come
        again); everything since is in one answer, so ``more`` is False."""
        found = self._feeds.get(feed)
        if found is None:
            raise ProviderRejected(f"provider {self.name}: no feed {feed!r} (its feeds: "
                                   f"{', '.join(self.feeds)})")
        since = timepoint_of(cursor)
        asked = max(0, since - self._options.timepoint_overlap_ms) if cursor is not None else 0
        params = {"login": self._options.secure_login, "password": self._secret,
                  "timepoint": str(asked), "dataType": found.data_type}
        answer = self._feed_call(FEED_PATH, params, found, accept="text/csv, application/json")
        following, rows = parse_feed(answer.content, timepoint=asked, provider=self.name,
                                     call=f"gamerounds/finished {feed}", reading=self._reading)
        return HistoryPage(rows=rows, cursor=str(max(following, since)), more=False)

    def list_environments(self) -> list[Environment]:
        """The provider's environments (``envName``, ``apiDomain``): where the rounds are
        spread over, to write option ``environments`` from (docs/providers/pragmatic.md)."""
        answer = self._api_call("GET", ENVIRONMENTS_PATH,
                                {"secureLogin": self._options.secure_login})
        return parse_environments(answer.content, provider=self.name, report=self._report)

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

    def _api_call(self, method: Literal["GET", "POST"], path: str,
                  params: dict[str, str]) -> Answer:
        """The 200 answer to the hash-signed call, from ``base_url`` or its fallbacks."""
        form = urlencode(signed(params, self._secret, values=self._options.hash_values,
                                empty=self._options.empty_params)).encode("ascii")
        return self._client.call(method, path, form)

    def _feed_call(self, path: str, params: dict[str, str], feed: Feed, *,
                   accept: str) -> Answer:
        """The 200 answer to a DataFeeds GET (login and password, no hash) from the feed's
        data host or its fallbacks; the password never shows in a message."""
        form = urlencode(params).encode("ascii")
        return self._client.call("GET", path, form, bases=feed.urls, accept=accept,
                                 redact=(self._secret,))
