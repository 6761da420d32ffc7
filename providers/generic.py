"""The generic JSON provider adapter: the contract in docs/design.md, strictly validated.

Nothing a provider sends is believed until it has passed these models
(docs/design.md, invariant 8): a malformed answer becomes :class:`ProviderInvalidResponse`,
which callers handle like an outage, so it can never settle or refund a bet.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from urllib.parse import quote

import requests
from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from betguard.providers.amounts import Currency
from betguard.providers.base import (
    BetStatus,
    CancelOutcome,
    Capability,
    HistoryPage,
    ProviderStatus,
)
from betguard.providers.client_settings import ProviderClientSettings
from betguard.providers.errors import ProviderInvalidResponse, ProviderRejected
from betguard.providers.http import PROVIDER_ERRORS, SignedJsonClient, SignedResponse

# ASCII digits only: ``\d`` would also take Arabic-Indic, fullwidth and other digits,
# which Decimal() reads as numbers. No sign: a payout is never negative, not even -0.
_DECIMAL_STRING = re.compile(r"[0-9]{1,12}(\.[0-9]{1,4})?")


def _to_decimal(value: Any) -> Any:
    """Accept a plain decimal string or a JSON number; refuse signs (negative zero too),
    exponents, spaces, digits other than ASCII 0-9 and booleans."""
    if isinstance(value, str):
        if not _DECIMAL_STRING.fullmatch(value):
            raise ValueError("should be a decimal string like '12.50' (ASCII digits, no sign, "
                             "at most 4 decimal places)")
        return Decimal(value)
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise ValueError("must not carry a sign")
        return Decimal(value)
    if isinstance(value, float):
        if math.copysign(1.0, value) < 0:  # -0.0 compares equal to 0: its sign bit tells
            raise ValueError("must not carry a sign")
        return Decimal(repr(value))  # the shortest text that reads back as the same number
    return value  # None, bools and the rest fail the Decimal check with a clear message


Payout = Annotated[
    Decimal,
    BeforeValidator(_to_decimal),
    Field(ge=0, lt=10**12, decimal_places=4, allow_inf_nan=False),
]


class StatusBody(BaseModel):
    """One bet's status as the contract words it. Unknown extra keys are ignored."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    bet_ref: str
    status: Literal["pending", "settled", "cancelled"]
    payout: Payout | None = None
    currency: Currency | None = None
    settled_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _settled_has_a_payout(self) -> StatusBody:
        if self.status == "settled" and self.payout is None:
            raise ValueError("payout is required when status is settled")
        if self.payout is not None and self.currency is None:
            raise ValueError("currency is required when there is a payout")
        return self

    def to_status(self) -> BetStatus:
        return BetStatus(
            bet_ref=self.bet_ref,
            status=ProviderStatus(self.status),
            payout=self.payout,
            currency=self.currency,
            settled_at=self.settled_at,
        )


class BatchBody(BaseModel):
    """The answer to ``POST /bets/status``: known bets, and refs the provider never saw."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    bets: list[StatusBody]
    unknown: list[str] = Field(default_factory=list)


def _describe(error: ValidationError) -> str:
    """'field: problem' for each error, so the message names what was wrong."""
    parts = []
    for item in error.errors(include_url=False):
        field = ".".join(str(part) for part in item["loc"]) or "body"
        parts.append(f"{field}: {item['msg']}")
    return "; ".join(parts)


def parse_status(content: bytes, *, bet_ref: str, provider: str = "") -> BetStatus:
    """Validate one status answer about ``bet_ref``; an answer about another bet is invalid."""
    try:
        body = StatusBody.model_validate_json(content)
    except ValidationError as exc:
        raise _invalid(provider, bet_ref, _describe(exc)) from exc
    if body.bet_ref != bet_ref:
        raise _invalid(provider, bet_ref, f"bet_ref: answer is about {body.bet_ref[:64]!r}")
    return body.to_status()


def parse_statuses(
    content: bytes, *, bet_refs: list[str], provider: str = ""
) -> dict[str, BetStatus]:
    """Validate a batch answer: every requested ref exactly once, and nothing else."""
    label = ",".join(bet_refs)[:200]
    try:
        body = BatchBody.model_validate_json(content)
    except ValidationError as exc:
        raise _invalid(provider, label, _describe(exc)) from exc
    answers: dict[str, BetStatus] = {}
    found = [(item.bet_ref, item.to_status()) for item in body.bets]
    found += [(ref, BetStatus(bet_ref=ref, status=ProviderStatus.UNKNOWN)) for ref in body.unknown]
    wanted = set(bet_refs)
    for ref, status in found:
        if ref not in wanted:
            raise _invalid(provider, label, f"bet_ref: answer names unrequested bet {ref[:64]!r}")
        if ref in answers:
            raise _invalid(provider, ref, "bet_ref: answered twice")
        answers[ref] = status
    missing = [ref for ref in bet_refs if ref not in answers]
    if missing:
        raise _invalid(provider, missing[0], f"bets: no answer for {len(missing)} requested bet(s)")
    return answers


def _invalid(provider: str, bet_ref: str, problem: str) -> ProviderInvalidResponse:
    prefix = f"provider {provider}: " if provider else ""
    return ProviderInvalidResponse(f"{prefix}invalid response for bet {bet_ref!r}: {problem}")


class GenericHttpProvider:
    """A provider that speaks the generic contract over signed JSON HTTP."""

    def __init__(
        self,
        settings: ProviderClientSettings,
        *,
        max_wait: float = 1.0,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """``settings.page_size`` is unused: the generic contract has no feed. The
        keywords are for tests: the longest retry wait, the transport and the sleep."""
        if settings.options:
            raise ValueError(f"provider {settings.name}: the generic adapter takes no options "
                             f"(got {', '.join(sorted(settings.options))})")
        self.name = settings.name
        self.supports_batch = settings.supports_batch
        self.capabilities = frozenset(
            {Capability.STATUS, Capability.CANCEL}
            | ({Capability.BATCH_STATUS} if settings.supports_batch else set())
        )
        self.feeds: tuple[str, ...] = ()
        self._client = SignedJsonClient(
            base_url=settings.base_url,
            secret=settings.secret,
            errors=PROVIDER_ERRORS,
            name=f"provider {settings.name}",
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
            attempts=settings.attempts,
            max_wait=max_wait,
            session=session,
            sleep=sleep,
            throttle=settings.throttle,
            fallback_urls=settings.fallback_urls,
            service=settings.name,
        )

    def close(self) -> None:
        self._client.close()

    def get_status(self, bet_ref: str, player_id: str = "") -> BetStatus:
        """The provider's status of one bet; 404 means it does not know the bet (UNKNOWN),
        which may be "not yet": providers register bets late."""
        response = self._client.request("GET", f"/bets/{_quoted(bet_ref)}")
        if response.status_code == 404:
            return _via(BetStatus(bet_ref=bet_ref, status=ProviderStatus.UNKNOWN), response)
        self._expect_ok(response, bet_ref)
        return _via(parse_status(response.content, bet_ref=bet_ref, provider=self.name), response)

    def get_statuses(self, bet_refs: list[str]) -> dict[str, BetStatus]:
        """Statuses for every requested ref, in one call when the provider supports batches.

        Without batch support this falls back to one call per ref rather than
        failing: callers should check ``supports_batch`` to size their work.
        """
        refs = list(dict.fromkeys(bet_refs))  # each ref once, order kept
        if not refs:
            return {}
        if not self.supports_batch:
            return {ref: self.get_status(ref) for ref in refs}
        response = self._client.request("POST", "/bets/status", body={"bet_refs": refs})
        self._expect_ok(response, ",".join(refs)[:200])
        answers = parse_statuses(response.content, bet_refs=refs, provider=self.name)
        return {ref: _via(status, response) for ref, status in answers.items()}

    def cancel(self, bet_ref: str, player_id: str = "") -> CancelOutcome:
        """Ask the provider to cancel a bet.

        * 200 with status cancelled: accepted. The provider holds the bet cancelled,
          and for a bet it did not know (yet) keeps a tombstone: a late registration
          or result of that reference is refused. The reference is fenced.
        * 409 with the bet's result: not accepted; ``status`` carries the result.
          A 409 saying the bet is already cancelled counts as accepted (a
          repeated cancel).
        * 404: the provider does not know the bet and kept no record of the cancel,
          so a late registration could still settle it: not accepted, with status
          UNKNOWN (nothing is fenced; a person decides).
        Any other answer (e.g. 200 that is not "cancelled", 409 that is still
        pending) is ambiguous and raised as an invalid response, so a person
        decides rather than an automatic refund (docs/design.md, invariant 6).
        """
        response = self._client.request("POST", f"/bets/{_quoted(bet_ref)}/cancel", body={})
        if response.status_code == 404:
            unknown = BetStatus(bet_ref, ProviderStatus.UNKNOWN)
            return CancelOutcome(accepted=False, status=_via(unknown, response))
        if response.status_code != 409:
            self._expect_ok(response, bet_ref)
        status = _via(parse_status(response.content, bet_ref=bet_ref, provider=self.name),
                      response)
        return self._cancel_outcome(response.status_code, status)

    def fetch_history(self, feed: str, cursor: str | None) -> HistoryPage:
        """The generic contract has no history feed."""
        raise ProviderRejected(f"provider {self.name}: the generic contract has no history feed")

    def fetch_history_window(self, start: datetime, end: datetime) -> HistoryPage:
        raise ProviderRejected(f"provider {self.name}: the generic contract has no history")

    def _cancel_outcome(self, status_code: int, status: BetStatus) -> CancelOutcome:
        if status.status is ProviderStatus.CANCELLED:
            return CancelOutcome(accepted=True, status=status)
        if status_code == 409 and status.status is ProviderStatus.SETTLED:
            return CancelOutcome(accepted=False, status=status)
        raise _invalid(
            self.name, status.bet_ref, f"status: {status.status.value!r} after HTTP {status_code}"
        )

    def _expect_ok(self, response: SignedResponse, bet_ref: str) -> None:
        """Map anything but 200 to its category: other 4xx refused, the rest unexpected."""
        code = response.status_code
        if code == 200:
            return
        detail = f"HTTP {code}: {response.text_excerpt()}"
        if 400 <= code < 500:
            raise ProviderRejected(f"provider {self.name}: bet {bet_ref!r} refused: {detail}")
        raise _invalid(self.name, bet_ref, f"status code: unexpected {detail}")


def _via(status: BetStatus, response: SignedResponse) -> BetStatus:
    """The status, naming the fallback base URL that answered (None: the primary)."""
    return status if response.via is None else replace(status, via=response.via)


def _quoted(bet_ref: str) -> str:
    """A ref as one path segment: '/', '?', '#' and the like cannot change the route."""
    return quote(bet_ref, safe="")
