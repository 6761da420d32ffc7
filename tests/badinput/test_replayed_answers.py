"""Signed answers replayed or changed by a man in the middle, against the real clients
and a real simulator: each is refused as an untrustworthy answer (a provider error; a
refund left in doubt), never taken for the answer to this request, and the next
genuine answer is believed again."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from decimal import Decimal

import pytest

from betguard.providers.client_settings import ProviderClientSettings
from betguard.providers.generic import GenericHttpProvider
from betguard.providers.wallet import HttpWallet, refund_idempotency_key
from tests.badinput.private_sim import PrivateSim, within
from tests.badinput.replay_cases import PROVIDER_CASES, WALLET_CASES, Call, ReplayCase
from tests.badinput.tamper_proxy import tamper_proxy

pytestmark = pytest.mark.integration

LIMIT_SECONDS = 6.5  # as for the other hostile answers: no spoiled answer holds a caller
FATES = {"unknown": {"fate": "unknown"}, "pending": {"fate": "never"},
         "settled": {"fate": "returned", "payout": "7.00"}}



class Caller:
    """Runs a case's calls through the proxy, each bet of the case a fresh one."""

    def __init__(self, sim: PrivateSim, url: str) -> None:
        settings = ProviderClientSettings(name="hostile", base_url=url,
                                          secret=sim.provider_secret, connect_timeout=1.0,
                                          read_timeout=1.0, attempts=2)
        self.provider = GenericHttpProvider(settings, max_wait=0.1)
        self.wallet = HttpWallet(base_url=url, secret=sim.wallet_secret, connect_timeout=1.0,
                                 read_timeout=1.0, attempts=2, max_wait=0.1)
        self.refs = {name: sim.bet(**spec) for name, spec in FATES.items()}
        self.refs |= {name: f"replay-{secrets.token_hex(6)}" for name in ("refund_a", "refund_b")}

    def run(self, call: Call) -> Callable[[], object]:
        kind, bet = call
        ref = self.refs[bet]
        if kind == "status":
            return lambda: self.provider.get_status(ref)
        if kind == "cancel":
            return lambda: self.provider.cancel(ref)
        return lambda: self.wallet.refund(
            idempotency_key=refund_idempotency_key("hostile", ref), provider="hostile",
            bet_ref=ref, amount=Decimal("10.00"), currency="EUR")


@pytest.mark.parametrize("case", [case.param() for case in PROVIDER_CASES + WALLET_CASES])
def test_a_replayed_or_changed_signed_answer_is_refused_as_untrustworthy(
    sim: PrivateSim, case: ReplayCase
) -> None:
    with tamper_proxy(sim.url) as (proxy, url):
        caller = Caller(sim, url)
        for call in case.prime:
            caller.run(call)()
        genuine = caller.run(case.call)()  # what the call is truly answered, before spoiling
        proxy.tamper = case.tamper

        outcome, elapsed = within(LIMIT_SECONDS, caller.run(case.call))

        assert isinstance(outcome, Exception), f"{case.name}: accepted as {outcome!r}"
        assert type(outcome) is case.category, f"{type(outcome).__name__}: {outcome}"
        assert case.named.lower() in str(outcome).lower(), str(outcome)
        assert elapsed < LIMIT_SECONDS
        proxy.tamper = None
        assert caller.run(case.call)() == genuine, "the next genuine answer is believed again"
