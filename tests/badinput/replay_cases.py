"""Signed answers replayed or changed on the way: each was genuinely signed by the
simulator, for some request, so only binding the signature to the request and its
status can refuse it. Also the headers of absurd size a signature check parses.

A case primes the proxy with genuine exchanges (``prime``), then spoils the answer
to one call (``call``). Bets: ``unknown`` (answered 404), ``pending``, ``settled``
(returned, payout 7.00), ``refund_a`` and ``refund_b`` (two refunds of other bets).
"""

from __future__ import annotations

from dataclasses import dataclass

from betguard.providers.errors import ProviderInvalidResponse, WalletUnavailable
from betguard.providers.signing import REQUEST_ID_HEADER, TIMESTAMP_HEADER
from tests.badinput.cases import case_param
from tests.badinput.tamper_proxy import (
    Tamper,
    about_another_target,
    earliest,
    replay,
    to_an_earlier_request,
    to_another_method,
    with_header,
    with_status,
)

HUGE = "9" * 5000  # past int()'s 4300-digit limit: a ValueError unless refused first

# A call: the client method and the bet it is about ("status unknown", "cancel settled", ...)
Call = tuple[str, str]


@dataclass(frozen=True)
class ReplayCase:
    name: str
    prime: tuple[Call, ...]  # genuine calls first, so the proxy has answers to replay
    call: Call  # the call whose answer is spoiled
    tamper: Tamper
    category: type[Exception]
    named: str  # words the error must carry
    bug: str | None = None

    def param(self) -> object:
        return case_param(self, self.name, self.bug)


INVALID, IN_DOUBT = ProviderInvalidResponse, WalletUnavailable
ANOTHER_REQUEST = "an answer to another request"
NO_MATCH = "signature does not match"

PROVIDER_CASES = [
    ReplayCase("a 404 about another bet replayed as the answer about a settled bet",
               (("status", "unknown"),), ("status", "settled"),
               replay(about_another_target), INVALID, ANOTHER_REQUEST),
    ReplayCase("the same replay with the request id echo rewritten",
               (("status", "unknown"),), ("status", "settled"),
               replay(about_another_target, echo=True), INVALID, NO_MATCH),
    ReplayCase("a cancel's 404 about another bet replayed onto a settled bet's cancel",
               (("cancel", "unknown"),), ("cancel", "settled"),
               replay(about_another_target, echo=True), INVALID, NO_MATCH),
    ReplayCase("a status query's 404 replayed as the answer to a cancel of the same bet",
               (("status", "unknown"),), ("cancel", "unknown"),
               replay(to_another_method, echo=True), INVALID, NO_MATCH),
    ReplayCase("an earlier answer about the same bet replayed",
               (("status", "pending"),), ("status", "pending"),
               replay(to_an_earlier_request), INVALID, ANOTHER_REQUEST),
    ReplayCase("an earlier answer about the same bet replayed with its echo rewritten",
               (("status", "pending"),), ("status", "pending"),
               replay(to_an_earlier_request, echo=True), INVALID, NO_MATCH),
    ReplayCase("a settled 200 turned into a 404", (), ("status", "settled"),
               with_status(404), INVALID, NO_MATCH),
    ReplayCase("a cancel's 409 with the result turned into a 404", (), ("cancel", "settled"),
               with_status(404), INVALID, NO_MATCH),
    ReplayCase("a 404 turned into a 409", (), ("cancel", "unknown"),
               with_status(409), INVALID, NO_MATCH),
    ReplayCase("a timestamp of 5000 digits", (), ("status", "settled"),
               with_header(TIMESTAMP_HEADER, HUGE), INVALID, "malformed timestamp"),
    ReplayCase("a Content-Length of 5000 digits", (), ("status", "settled"),
               with_header("Content-Length", HUGE), INVALID, "exceeds"),
    ReplayCase("a request id echo of 5000 characters", (), ("status", "settled"),
               with_header(REQUEST_ID_HEADER, "a" * 5000), INVALID, "malformed request id"),
    ReplayCase("no request id echoed", (), ("status", "settled"),
               with_header(REQUEST_ID_HEADER, None), INVALID,
               f"missing signature headers: {REQUEST_ID_HEADER}"),
]

WALLET_CASES = [
    ReplayCase("a receipt for another refund replayed", (("refund", "refund_a"),),
               ("refund", "refund_b"), replay(earliest), IN_DOUBT, ANOTHER_REQUEST),
    ReplayCase("a receipt for another refund replayed with its echo rewritten",
               (("refund", "refund_a"),), ("refund", "refund_b"), replay(earliest, echo=True),
               IN_DOUBT, NO_MATCH),
    ReplayCase("a receipt turned into a refusal", (), ("refund", "refund_b"),
               with_status(400), IN_DOUBT, NO_MATCH),
    ReplayCase("a receipt with a timestamp of 5000 digits", (), ("refund", "refund_b"),
               with_header(TIMESTAMP_HEADER, HUGE), IN_DOUBT, "malformed timestamp"),
]
