"""The simulator's Pragmatic Play provider: DataFeeds of finished and incomplete rounds
per environment and data type, cancelRound, and the environments list.

Modelled on what public operator integrations send and read (docs/providers/pragmatic.md
lists each fact with its source); where they are silent the simulator's choices are said
below.

Authentication. DataFeeds calls (GET, query string) carry ``login`` (the operator's
secure login; the simulator knows one, ``$SIMULATOR_PRAGMATIC_SECURE_LOGIN`` or
"test-login") and ``password`` (the provider secret), no hash. The http API calls
(``CasinoGameAPI``, ``SystemAPI``) carry ``secureLogin`` and ``hash``: the lowercase hex
MD5 of every other non-empty parameter sorted by key (plain string order), joined as
``k=v&k=v`` with the raw (not url-encoded) values, the secret appended directly.

Answers are HTTP 200 with JSON ``{"error": <code>, "description": "<text>", ...}`` (only
an outage, or an injected 503, is another status); the http API sends the code as a
string (``"0"``), DataFeeds as an integer. The codes (:data:`ERRORS`): 0 ok, 2 player not
found, 4 authentication failed, 5 invalid hash, 7 bad parameters, 8 game not found
(cancelRound: nothing to cancel), 100 internal error (retry; also a feed called too
often, the simulator's choice), 120 internal error without retry (cancelRound: the round
already has its result), 17 (unknown: sent by the control ``next_code``).

Rounds. A bet registered with a ref ``<gameId>:<roundId>`` (gameId: letters, digits and
``_``, at most 64; roundId: 1 to 19 digits below 2^63) is a round of this provider; other
refs, and bets of fate "unknown", are not played here. A round's player, environment and
data type come from the control ``POST /_sim/pragmatic/rounds`` (a bet spec with the
extra keys ``player_id``, ``environment``, ``data_type`` and ``in_progress_row``); a
round registered through the generic ``POST /_sim/bets`` has no player (any
``playerId`` may ask about it) and is an ``RNG`` round of the environment "main".

Environments. "main" is the simulator's root; any other environment ``<env>`` (letters,
digits and ``._-``) is served under ``/env/<env>``. ``GET
/IntegrationService/v3/http/SystemAPI/environments`` (``secureLogin``, ``hash``) lists
"main" and every environment a round was registered in, as ``{"envName", "apiDomain"}``
-- the apiDomain of a simulated environment is the simulator's host and that prefix (one
process serves them all; a real apiDomain is a bare host).

The calls:

* ``GET <env>/IntegrationService/v3/DataFeeds/gamerounds/incomplete/`` (``login``,
  ``password``, ``playerId``, ``dataType``, ``timepoint``): the player's rounds of that
  environment and data type the provider knows and that have no result yet, as
  ``{"error": 0, "playerId", "data": [{"gameId", "playSessionID", "betAmount"}]}``;
* ``POST /IntegrationService/v3/http/CasinoGameAPI/cancelRound`` (``externalPlayerId``,
  ``gameId``, ``roundId``, ``secureLogin``, ``hash``): the generic book's cancel -- a
  pending round is cancelled for good (0), a round with a result answers 120, a round not
  known yet is fenced by a tombstone (0) or, when it cannot be (knob ``tombstones`` off),
  8; a round of another player is 8.
* ``GET <env>/IntegrationService/v3/DataFeeds/gamerounds/finished/`` (``login``,
  ``password``, ``timepoint``, ``dataType``): text::

    timepoint=<ms>
    playerID,extPlayerID,gameID,playSessionID,parentSessionID,startDate,endDate,status,type,bet,win,currency,jackpot
    <one line per round of the feed that entered it at or after the timepoint>

A finished round enters its feed a while after it finished (knob ``feed_lag_range``,
drawn per record) at a feed moment (ms, strictly increasing, never below the clock when
it enters). Rows are listed by that moment from the requested timepoint on, inclusive,
and the ``timepoint`` line is the last listed row's (the request's when none). Status
``C`` is a completed round (``win`` its payout), ``V`` (void) one cancelled by
``cancelRound`` while it ran, ``I`` a round in progress (registered with
``in_progress_row``: its row shows with an empty ``endDate`` until the result replaces
it); a round fenced before the provider played it has no row. ``parentSessionID`` is
``null`` for a round of its own. Dates are UTC, ``YYYY-MM-DD HH:MM:SS.mmm``. A call
sooner than ``feed_min_interval`` after the previous answered call of the same feed gets
``{"error": 100, ...}`` as JSON instead.

Unsigned controls (``/_sim/pragmatic/...``): give a completed round another win (the
provider re-finishes it: a new ``endDate``, so a newer version of the same row), add a
duplicate row (a new ``playSessionID`` whose ``parentSessionID`` is the round: a second
record of the same bet), read a round's rows, put a line of any text into a feed
(``lines``: a row of the public shape or not), and answer the next http API call with a
given code (``next_code``). Nothing runs on a timer: what is due is applied before every
request served.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from flask import Flask, Response, request

from betguard_devkit.simulator.knobs import Knobs
from betguard_devkit.simulator.pragmatic_controls import add_controls
from betguard_devkit.simulator.pragmatic_requests import (
    CallError,
    answer,
    authenticate_feed,
    csv_body,
    feed_query,
    form,
    outage,
    parse_params,
    player_of,
    round_of,
    served,
)
from betguard_devkit.simulator.pragmatic_rounds import (
    BAD_PARAMETERS,
    ENV_PATTERN,
    INTERNAL_ERROR,
    MAIN,
    OK,
    Provider,
    Rounds,
)
from betguard_devkit.simulator.state import SimState

HTTP_API = "/IntegrationService/v3/http"
CANCEL_PATH = f"{HTTP_API}/CasinoGameAPI/cancelRound"
ENVIRONMENTS_PATH = f"{HTTP_API}/SystemAPI/environments"
DATA_FEEDS = "/IntegrationService/v3/DataFeeds"
FEED_PATH = f"{DATA_FEEDS}/gamerounds/finished/"
INCOMPLETE_PATH = f"{DATA_FEEDS}/gamerounds/incomplete/"
SECURE_LOGIN_ENV = "SIMULATOR_PRAGMATIC_SECURE_LOGIN"
DEFAULT_SECURE_LOGIN = "test-login"


def add_routes(app: Flask, state: SimState, secret: str) -> None:
    """Add the http API calls, the DataFeeds of every environment, the controls and the
    hook that keeps the rounds due."""
    login = os.environ.get(SECURE_LOGIN_ENV) or DEFAULT_SECURE_LOGIN
    provider = Provider(state)

    @app.before_request
    def keep_the_rounds_due() -> None:
        state.read(provider.due)

    _add_api(app, provider, secret, login)
    _add_feeds(app, provider, secret, login)
    add_controls(app, provider)


def _add_api(app: Flask, provider: Provider, secret: str, login: str) -> None:
    """cancelRound and the environments list, on the simulator's root."""
    state = provider.state

    @app.post(CANCEL_PATH)
    def cancel_round() -> Response:
        if state.take_outage():
            return outage()
        try:
            params = form(secret, login)
            player, ref = player_of(params, "externalPlayerId"), round_of(params)
        except CallError as exc:
            return answer(exc.code, str(exc), as_text=True)
        state.count("cancel", [ref])
        forced = provider.take_code()
        if forced is not None:
            return answer(forced, "simulated", as_text=True)
        return served(state, [ref], lambda: answer(provider.read(
            lambda rounds, _book, now, knobs: rounds.cancel(player, ref, now, knobs)),
            as_text=True), as_text=True)

    @app.get(ENVIRONMENTS_PATH)
    def environments() -> Response:
        if state.take_outage():
            return outage()
        try:
            form(secret, login, query=True)
        except CallError as exc:
            return answer(exc.code, str(exc), as_text=True)
        forced = provider.take_code()
        if forced is not None:
            return answer(forced, "simulated", as_text=True)
        host = request.host
        names = provider.read(lambda rounds, _book, _now, _knobs: sorted(rounds.environments))
        listed = [{"envName": name, "apiDomain": host if name == MAIN else f"{host}/env/{name}"}
                  for name in names]
        return answer(OK, as_text=True, environments=listed)


def _add_feeds(app: Flask, provider: Provider, secret: str, login: str) -> None:
    """The finished and incomplete rounds of the environment "main" (the root) and of
    any other environment (``/env/<name>``)."""
    _add_finished(app, provider, secret, login)
    _add_incomplete(app, provider, secret, login)


def _environment_named(environment: str) -> Response | None:
    if ENV_PATTERN.fullmatch(environment):
        return None
    return answer(BAD_PARAMETERS, "environment: letters, digits and ._- only")


def _in_every_environment(app: Flask, path: str, name: str,
                          view: Callable[[str], Response]) -> None:
    """Serve ``view`` at ``path`` for "main" (the root) and at ``/env/<name>{path}`` for
    any other environment."""
    def main() -> Response:
        return view(MAIN)

    def elsewhere(environment: str) -> Response:
        return _environment_named(environment) or view(environment)

    app.add_url_rule(path, f"{name}_main", main, methods=["GET"])
    app.add_url_rule(f"/env/<environment>{path}", f"{name}_elsewhere", elsewhere,
                     methods=["GET"])


def _add_finished(app: Flask, provider: Provider, secret: str, login: str) -> None:
    state = provider.state

    def finished(environment: str) -> Response:
        if state.take_outage():
            return outage()
        try:
            params = parse_params(request.query_string)
            authenticate_feed(params, secret, login)
            timepoint, data_type = feed_query(params)
        except CallError as exc:
            return answer(exc.code, str(exc))
        return served(state, [], lambda: provider.read(
            lambda rounds, _book, now, knobs: _feed(rounds, (environment, data_type),
                                                    timepoint, now, knobs)), csv_feed=True)

    _in_every_environment(app, FEED_PATH, "finished", finished)


def _add_incomplete(app: Flask, provider: Provider, secret: str, login: str) -> None:
    state = provider.state

    def incomplete(environment: str) -> Response:
        if state.take_outage():
            return outage()
        try:
            params = parse_params(request.query_string)
            authenticate_feed(params, secret, login)
            _, data_type = feed_query(params)
            player = player_of(params, "playerId")
        except CallError as exc:
            return answer(exc.code, str(exc))
        state.count("status")
        return served(state, [], lambda: answer(OK, playerId=player, data=provider.read(
            lambda rounds, _book, now, _knobs: rounds.incomplete(player, environment,
                                                                 data_type, now))))

    _in_every_environment(app, INCOMPLETE_PATH, "incomplete", incomplete)


def _feed(rounds: Rounds, feed: tuple[str, str], timepoint: int, now: float,
          knobs: Knobs) -> Response:
    last = rounds.last_answer_at.get(feed)
    if last is not None and now - last < knobs.feed_min_interval:
        return answer(INTERNAL_ERROR, (
            f"called too often: feed {'/'.join(feed)} called {now - last:.2f} s after its "
            f"previous call, wait at least {knobs.feed_min_interval:g} s between calls"))
    rounds.last_answer_at[feed] = now
    return csv_body(*rounds.feed(*feed, timepoint))

