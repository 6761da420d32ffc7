"""The HTTP wallet client: refunds that happen exactly once (docs/design.md, invariant 5).

A refund's idempotency key is derived from the bet alone, so every retry of
the same refund -- by tenacity within a call, or by a sweep hours later --
carries the same key and the wallet answers with the first refund instead of
paying again. Any answer we cannot trust leaves the refund *in doubt*
(``WalletUnavailable``): the caller keeps the bet ``refund_pending`` and
retries with the same key; it never mints a new one.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Literal

import requests
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from betguard.models.domain.money import wire_amount
from betguard.providers.base import RefundReceipt
from betguard.providers.errors import WalletRejected, WalletUnavailable
from betguard.providers.http import WALLET_ERRORS, SignedJsonClient, SignedResponse


def refund_idempotency_key(provider: str, bet_ref: str) -> str:
    """The one key under which this bet's stake is ever refunded.

    The unit separator keeps ("a", "b:c") and ("a:b", "c") apart.
    """
    digest = hashlib.sha256(f"{provider}\x1f{bet_ref}".encode()).hexdigest()
    return "refund:" + digest[:32]


class RefundBody(BaseModel):
    """The wallet's answer to ``POST /refunds``. Unknown extra keys are ignored."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    refund_id: str = Field(min_length=1, max_length=200)
    idempotency_key: str
    bet_ref: str
    status: Literal["refunded"]


class AlreadyRefundedBody(BaseModel):
    """The wallet's 409 when the bet's stake was paid back already under another key
    (the provider's own rollback, say): the wallet pays each bet once, whoever asks."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    error: Literal["already refunded"]
    refund_id: str = Field(min_length=1, max_length=200)
    bet_ref: str
    provider: str | None = None
    refunded_by: str = Field(pattern=r"^[a-z][a-z_]{0,31}$")


class HttpWallet:
    """The platform wallet over signed JSON HTTP."""

    def __init__(
        self,
        *,
        base_url: str,
        secret: str,
        connect_timeout: float = 2.0,
        read_timeout: float = 5.0,
        attempts: int = 3,
        max_wait: float = 1.0,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = SignedJsonClient(
            base_url=base_url,
            secret=secret,
            errors=WALLET_ERRORS,
            name="wallet",
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            attempts=attempts,
            max_wait=max_wait,
            session=session,
            sleep=sleep,
        )

    def close(self) -> None:
        self._client.close()

    def refund(
        self, *, idempotency_key: str, provider: str, bet_ref: str, amount: Decimal, currency: str
    ) -> RefundReceipt:
        """Refund ``amount`` for one bet; a replay with the same key returns the first refund.

        A 409 "already refunded" about this very bet is no refusal: the stake is back
        (once), paid under another key; the receipt names that refund and who asked for
        it (``paid_by``, e.g. "provider" for the provider's own rollback).

        Raises ``WalletUnavailable`` when the outcome is in doubt (retry with
        the same key) and ``WalletRejected`` when the wallet refuses.
        """
        if not amount.is_finite() or amount <= 0:
            raise ValueError(f"refund amount must be a positive number, not {amount}")
        body = {
            "idempotency_key": idempotency_key,
            "provider": provider,
            "bet_ref": bet_ref,
            "amount": wire_amount(amount),  # a string: money never travels as a float
            "currency": currency,
        }
        response = self._client.request("POST", "/refunds", body=body)
        where = f"wallet: refund of bet {bet_ref!r} of provider {provider!r}"
        if response.status_code in (200, 201):
            return _receipt(response, where, idempotency_key=idempotency_key, bet_ref=bet_ref)
        if response.status_code == 409:
            paid = _paid_already(response, provider=provider, bet_ref=bet_ref)
            if paid is not None:
                return RefundReceipt(refund_id=paid.refund_id, idempotency_key=idempotency_key,
                                     paid_by=paid.refunded_by)
        if 400 <= response.status_code < 500:
            detail = f"HTTP {response.status_code}: {_error(response)}"
            raise WalletRejected(f"{where} refused: {detail}")
        raise WalletUnavailable(f"{where}: unexpected HTTP {response.status_code}")


def _receipt(
    response: SignedResponse, where: str, *, idempotency_key: str, bet_ref: str
) -> RefundReceipt:
    """Believe a receipt only if it is about this refund; anything else leaves it in doubt."""
    try:
        body = RefundBody.model_validate_json(response.content)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}"
            for e in exc.errors(include_url=False)
        )
        raise WalletUnavailable(f"{where}: invalid response: {problems}") from exc
    if body.idempotency_key != idempotency_key:
        raise WalletUnavailable(f"{where}: invalid response: idempotency_key does not match")
    if body.bet_ref != bet_ref:
        raise WalletUnavailable(f"{where}: invalid response: bet_ref does not match")
    return RefundReceipt(refund_id=body.refund_id, idempotency_key=body.idempotency_key)


def _paid_already(
    response: SignedResponse, *, provider: str, bet_ref: str
) -> AlreadyRefundedBody | None:
    """The first refund of this bet, if the 409 says exactly that; any other 409 (another
    bet, another provider, a reused key, an unreadable body) stays a refusal."""
    try:
        body = AlreadyRefundedBody.model_validate_json(response.content)
    except ValidationError:
        return None
    if body.bet_ref != bet_ref or (body.provider is not None and body.provider != provider):
        return None
    return body


def _error(response: SignedResponse) -> str:
    """The wallet's own error text when it sent one, else the start of the body."""
    try:
        parsed = json.loads(response.content)
    except ValueError:
        return response.text_excerpt()
    if isinstance(parsed, dict) and isinstance(parsed.get("error"), str):
        return str(parsed["error"])[:200]
    return response.text_excerpt()
