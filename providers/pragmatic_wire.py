"""Pragmatic Play on the wire: its paths, codes and signing, how it names a round, and
the strict models every answer must pass before anything is believed (docs/design.md,
invariant 8). Each fact, with its source and the option that changes it, is listed in
docs/providers/pragmatic.md; the adapter is ``betguard.providers.pragmatic``, the
parsing of whole answers ``betguard.providers.pragmatic_answers``.

Authentication. DataFeeds calls carry ``login`` (the secure login) and ``password`` (the
secret key) in the query string, no hash. The http API calls (``CasinoGameAPI``,
``SystemAPI``) carry ``secureLogin`` and ``hash`` = lowercase hex MD5 of the other
parameters sorted by key in plain string order, joined as ``k=v&k=v``, with the secret
appended directly (:func:`request_hash`); option ``hash_values`` says whether the values
are hashed raw (default) or url-encoded, option ``empty_params`` whether an empty
parameter is left out (default) or sent and hashed.

Codes (:data:`ERROR_CODES`): 2 player not found, 4 authentication failed, 5 invalid
hash, 7 bad parameters, 8 game not found or disabled and 120 internal error without
retry are refusals; 100 internal error means "later". Any other code is an invalid
answer, never a refusal that refunds.

Rounds. Pragmatic names rounds, not bets: ``<gameId>:<roundId>`` (:func:`round_ref`;
gameId of letters, digits and ``_``, roundId a positive integer below 2^63 written
without leading zeros; docs/design.md, "Bets and rounds").
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal
from urllib.parse import quote_plus

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from betguard.providers.amounts import Currency, json_number
from betguard.providers.errors import ProviderError, ProviderRejected, ProviderUnavailable
from betguard.providers.problems import Problem, ProblemReporter

HTTP_API = "/IntegrationService/v3/http"
CANCEL_PATH = f"{HTTP_API}/CasinoGameAPI/cancelRound"
ENVIRONMENTS_PATH = f"{HTTP_API}/SystemAPI/environments"
DATA_FEEDS = "/IntegrationService/v3/DataFeeds"
FEED_PATH = f"{DATA_FEEDS}/gamerounds/finished/"
INCOMPLETE_PATH = f"{DATA_FEEDS}/gamerounds/incomplete/"
COLUMNS = ("playerID", "extPlayerID", "gameID", "playSessionID", "parentSessionID",
           "startDate", "endDate", "status", "type", "bet", "win", "currency", "jackpot")
_INT64 = 2**63


def integers_up_to(n: int) -> str:
    """A regular expression (unanchored) for the decimal integers 1 to ``n``, written
    without leading zeros: a rule the API's document can state exactly."""
    digits = str(n)
    parts = [f"[1-9][0-9]{{0,{len(digits) - 2}}}"] if len(digits) > 1 else []
    for at, digit in enumerate(digits):
        lowest = 1 if at == 0 else 0
        if int(digit) > lowest:
            below = f"[{lowest}-{int(digit) - 1}]" if int(digit) - 1 > lowest else str(lowest)
            rest = len(digits) - at - 1
            parts.append(digits[:at] + below + (f"[0-9]{{{rest}}}" if rest else ""))
    parts.append(digits)
    return "(?:" + "|".join(parts) + ")"


# What a bet's game_id and round_id must be for a Pragmatic round: the intake's rule and
# what the API's document states (full matches).
GAME_ID = "[A-Za-z0-9_]{1,64}"
ROUND_ID = integers_up_to(_INT64 - 1)

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

_GAME = re.compile(GAME_ID)
_SESSION = re.compile(ROUND_ID)
_CODE = re.compile(r"0|[1-9][0-9]{0,5}")
_MONEY = re.compile(r"(0|[1-9][0-9]{0,11})(\.[0-9]{1,4})?")
_DATE = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2})(\.[0-9]{1,3})?")
_API_DOMAIN = re.compile(r"[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?(/[A-Za-z0-9._/-]{0,200})?")


def is_code(text: str) -> bool:
    """Whether ``text`` is written as an error code (a non-negative integer)."""
    return _CODE.fullmatch(text) is not None


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
    if _GAME.fullmatch(game_id) is None:
        raise RoundFieldError("game_id", f"{game_id[:80]!r} is not a Pragmatic gameId "
                              "(letters, digits and _, at most 64)")
    if _SESSION.fullmatch(round_id) is None:
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
    if not _SESSION.fullmatch(round_id):
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
        if not _SESSION.fullmatch(value):
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

    gameId: str = Field(pattern=f"^{GAME_ID}$")  # noqa: N815 - the provider's names
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
    gameID: str = Field(pattern=f"^{GAME_ID}$")  # noqa: N815
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

