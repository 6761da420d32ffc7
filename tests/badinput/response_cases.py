"""The hostile provider and wallet answers: the simulator fault that produces each, the
error category a client must raise for it and the words its message must carry.

``times`` is how many answers in a row are spoiled: a transient failure (a body
that trickles or breaks off) is retried within the same call, so it has to
outlast the call's attempts (two, in the tests' clients and policies) to be seen.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from betguard.providers.errors import (
    ProviderInvalidResponse,
    ProviderRejected,
    ProviderUnavailable,
    WalletRejected,
    WalletUnavailable,
)
from tests.badinput.cases import case_param

ATTEMPTS = 2  # per call, as the ``patient`` policy and the tests' clients have it


@dataclass(frozen=True)
class ResponseCase:
    """One hostile answer; ``category`` None means it is a valid answer that needs a person."""

    fault: str
    category: type[Exception] | None
    named: str
    times: int = 1
    bug: str | None = None
    end_to_end: bool = True  # also run through the running stack

    def param(self) -> object:
        return case_param(self, self.fault.replace("_", " "), self.bug)


INVALID, UNAVAILABLE, REJECTED = ProviderInvalidResponse, ProviderUnavailable, ProviderRejected

PROVIDER_CASES = [
    ResponseCase("missing_signature", INVALID, "missing signature headers"),
    ResponseCase("replayed_signature", INVALID, "signature does not match the body"),
    ResponseCase("stale_signature", INVALID, "stale timestamp"),
    ResponseCase("malformed_timestamp", INVALID, "malformed timestamp"),
    ResponseCase("negative_payout", INVALID, "payout: "),
    ResponseCase("absurd_payout", INVALID, "payout: input should be less than"),
    ResponseCase("nan_payout", INVALID, "payout: input should be a finite number"),
    ResponseCase("precise_payout", INVALID, "payout: "),
    ResponseCase("huge_integer", INVALID, "number out of range"),
    ResponseCase("unknown_status", INVALID, "status: input should be"),
    ResponseCase("settled_without_payout", INVALID, "payout is required when status is settled"),
    ResponseCase("lowercase_currency", INVALID, "currency: string should match pattern"),
    ResponseCase("other_currency", None, "does not fit a bet in EUR"),
    ResponseCase("garbage_settled_at", INVALID, "settled_at: input should be a valid datetime"),
    ResponseCase("missing_bet_ref", INVALID, "bet_ref: field required"),
    ResponseCase("error_with_200", INVALID, "status: field required"),
    ResponseCase("empty_body", INVALID, "invalid json: eof while parsing"),
    ResponseCase("json_array", INVALID, "body: input should be an object"),
    ResponseCase("json_null", INVALID, "body: input should be an object"),
    ResponseCase("deep_json", INVALID, "recursion limit exceeded"),
    ResponseCase("not_utf8", INVALID, "invalid json"),
    ResponseCase("http_400", REJECTED, "refused: http 400"),
    ResponseCase("http_403", REJECTED, "refused: http 403"),
    ResponseCase("http_418", REJECTED, "refused: http 418"),
    ResponseCase("redirect_302", INVALID, "unexpected http 302"),
    ResponseCase("nul_error_body", REJECTED, "refused: http 400"),
    ResponseCase("oversized_body", INVALID, "exceeds 1048576"),
    ResponseCase("endless_body", INVALID, "body exceeds 1048576 bytes"),
    # An attempt cut at its deadline is not tried again at once (the provider may still
    # hold it): one drip spoils the call, and the next call is answered.
    ResponseCase("slow_drip", UNAVAILABLE, "no whole answer within", times=1),
    ResponseCase("slow_drip_declared", UNAVAILABLE, "no whole answer within", times=1,
                 end_to_end=False),
    ResponseCase("truncated_body", UNAVAILABLE, "incompleteread", times=ATTEMPTS),
]



@dataclass(frozen=True)
class PayoutCase:
    """A payout as a hostile provider words it on every answer about a settled bet (the
    simulator's ``payout_sent``): always invalid, its message naming the payout."""

    name: str
    sent: str | float

    def param(self) -> object:
        return pytest.param(self, id=self.name)


HOSTILE_PAYOUTS = [
    PayoutCase("arabic-indic digits", "\u0663.\u0660\u0660"),  # Decimal() reads it as 3.00
    PayoutCase("extended arabic-indic digits", "\u06f7"),
    PayoutCase("fullwidth digits", "\uff11\uff12.50"),
    PayoutCase("devanagari digits", "\u0967\u0966.00"),
    PayoutCase("one foreign digit among ascii", "1\u0662.00"),
    PayoutCase("superscript digits", "\u00b2.00"),
    PayoutCase("negative zero string", "-0.00"),
    PayoutCase("negative zero integer string", "-0"),
    PayoutCase("negative zero json number", -0.0),
    PayoutCase("plus sign", "+7.00"),
    PayoutCase("negative json number", -7.0),
]

IN_DOUBT, REFUSED = WalletUnavailable, WalletRejected

WALLET_CASES = [
    ResponseCase("other_key", IN_DOUBT, "idempotency_key does not match"),
    ResponseCase("other_ref", IN_DOUBT, "bet_ref does not match"),
    ResponseCase("pending_refund", IN_DOUBT, "status: input should be 'refunded'"),
    ResponseCase("no_refund_id", IN_DOUBT, "refund_id: field required"),
    ResponseCase("long_refund_id", IN_DOUBT, "refund_id: string should have at most 200"),
    ResponseCase("missing_signature", IN_DOUBT, "missing signature headers"),
    ResponseCase("stale_signature", IN_DOUBT, "stale timestamp", end_to_end=False),
    ResponseCase("empty_body", IN_DOUBT, "eof while parsing"),
    ResponseCase("json_array", IN_DOUBT, "input should be an object", end_to_end=False),
    ResponseCase("oversized_body", IN_DOUBT, "exceeds 1048576", end_to_end=False),
    ResponseCase("redirect_302", IN_DOUBT, "unexpected http 302"),
    ResponseCase("http_418", REFUSED, "refused: http 418", end_to_end=False),
    ResponseCase("nul_error_body", REFUSED, "refused: http 400", end_to_end=False),
]

PROVIDER_END_TO_END = [case for case in PROVIDER_CASES if case.end_to_end]
WALLET_END_TO_END = [case for case in WALLET_CASES if case.end_to_end]
