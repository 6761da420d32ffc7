"""A Pragmatic Play provider: DataFeeds of finished and incomplete rounds per data host and
product, cancelRound, and the environments list that names the data hosts.

Every wire fact, with its source and the option that changes it, is listed in
docs/providers/pragmatic.md; what no public source settles is marked there
"unconfirmed: our choice". The wire itself (paths, codes, signing, the answers' strict
models) is ``betguard.providers.pragmatic_wire``; reading whole answers and feed rows,
``betguard.providers.pragmatic_answers``. Nothing is believed before it passed them
(docs/design.md, invariant 8).

Bets and rounds. Pragmatic names rounds, not bets: its calls and feeds take
``gameId`` and ``roundId`` (the feed's ``playSessionID``), while its wallet calls carry
each bet's own ``reference``, and a round may hold several bets. So a bet's ``bet_ref``
is Pragmatic's per-bet ``reference`` (any reference betguard takes: its refund is keyed by
it, as Pragmatic's own ``refund`` is), and its round is ``<game_id>:<round_id>`` from the
bet's fields (:func:`round_ref`, e.g. ``vs20olympgate:8812345``; gameId of letters,
digits and ``_``, roundId a positive integer below 2^63 written without leading zeros):
every call here is given that round (docs/design.md, "Bets and rounds").

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
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlencode, urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from betguard.providers.base import (
    BetStatus,
    CancelOutcome,
    Capability,
    HistoryPage,
    ProviderStatus,
)
from betguard.providers.client_settings import ProviderClientSettings
from betguard.providers.errors import ProviderRejected
from betguard.providers.form_http import Answer, FormHttpClient, describe
from betguard.providers.pragmatic_answers import (
    cancel_outcome,
    parse_environments,
    parse_feed,
    parse_incomplete,
    timepoint_of,
)
from betguard.providers.pragmatic_wire import (
    CANCEL_PATH,
    DEFAULT_CANCEL_CODES,
    ENVIRONMENTS_PATH,
    FEED_PATH,
    INCOMPLETE_PATH,
    CancelMeaning,
    Environment,
    Reading,
    is_code,
    signed,
    split_ref,
)
from betguard.providers.problems import ProblemReporter

# A feed answer lists every round since the timepoint: allow a generous body.
MAX_RESPONSE_BYTES = 32 * 1024 * 1024
_LOGIN = r"^[A-Za-z0-9._:@-]{1,128}$"
_ENV = re.compile(r"[A-Za-z0-9._-]{1,64}")
_DATA_TYPE = re.compile(r"[A-Z0-9]{1,8}")


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
            if not is_code(code) or code == "0":
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

