"""Hostile provider and wallet answers against the real clients and a real simulator:
each raises the category its caller acts on, with a message naming the problem, and
within a bounded time. (The same answers through the running stack are in
``test_hostile_answers_end_to_end``.)"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from betguard.config.policies import ProviderPolicy
from betguard.models.domain.escalation import Action, decide_after_check
from betguard.models.domain.events import ReviewReason
from betguard.providers.base import BetStatus, ProviderStatus
from betguard.providers.client_settings import ProviderClientSettings
from betguard.providers.errors import (
    ProviderInvalidResponse,
    ProviderUnavailable,
    WalletUnavailable,
)
from betguard.providers.generic import GenericHttpProvider
from betguard.providers.wallet import HttpWallet, refund_idempotency_key
from betguard_devkit.neighbours import DripProxy
from tests.badinput.private_sim import PrivateSim, within
from tests.badinput.response_cases import (
    ATTEMPTS,
    HOSTILE_PAYOUTS,
    PROVIDER_CASES,
    WALLET_CASES,
    PayoutCase,
    ResponseCase,
)
from tests.integration.harness import wait_until

pytestmark = pytest.mark.integration

# Two attempts of at most connect (1 s) + read deadline (1 s) each, the pauses between
# them, and a margin for a loaded machine: no hostile answer may hold a caller longer.
LIMIT_SECONDS = 6.5



def provider_client(sim: PrivateSim, *, supports_batch: bool = False) -> GenericHttpProvider:
    settings = ProviderClientSettings(name="hostile", base_url=sim.url,
                                      secret=sim.provider_secret, supports_batch=supports_batch,
                                      connect_timeout=1.0, read_timeout=1.0, attempts=ATTEMPTS)
    return GenericHttpProvider(settings, max_wait=0.1)


def wallet_client(sim: PrivateSim) -> HttpWallet:
    return HttpWallet(base_url=sim.url, secret=sim.wallet_secret, connect_timeout=1.0,
                      read_timeout=1.0, attempts=ATTEMPTS, max_wait=0.1)


def assert_refused_as(case: ResponseCase, outcome: object) -> None:
    assert isinstance(outcome, Exception), f"{case.fault}: accepted as {outcome!r}"
    assert type(outcome) is case.category, f"{case.fault}: {type(outcome).__name__}: {outcome}"
    assert case.named.lower() in str(outcome).lower(), str(outcome)


@pytest.mark.parametrize("case", [case.param() for case in PROVIDER_CASES])
def test_a_hostile_provider_answer_is_refused_in_its_category_naming_the_problem_in_bounded_time(
    sim: PrivateSim, case: ResponseCase
) -> None:
    ref = sim.bet("returned", payout="7.00")
    sim.fault(case.fault, case.times, bet_ref=ref)
    client = provider_client(sim)

    outcome, elapsed = within(LIMIT_SECONDS, lambda: client.get_status(ref))

    if case.category is None:
        assert_needs_a_person(outcome, case)
    else:
        assert_refused_as(case, outcome)
    assert elapsed < LIMIT_SECONDS
    assert client.get_status(ref).payout == Decimal("7.00"), "the next answer is believed again"


@pytest.mark.parametrize("case", [case.param() for case in HOSTILE_PAYOUTS])
def test_a_payout_in_foreign_digits_or_with_a_sign_is_refused_as_an_invalid_answer(
    sim: PrivateSim, case: PayoutCase
) -> None:
    ref = sim.bet("returned", payout="7.00", payout_sent=case.sent)
    client = provider_client(sim)

    outcome, elapsed = within(LIMIT_SECONDS, lambda: client.get_status(ref))

    assert isinstance(outcome, ProviderInvalidResponse), f"{case.name}: accepted as {outcome!r}"
    assert "payout: " in str(outcome) and repr(ref) in str(outcome), str(outcome)
    assert elapsed < LIMIT_SECONDS
    batched = provider_client(sim, supports_batch=True)
    with pytest.raises(ProviderInvalidResponse, match="bets.0.payout"):
        batched.get_statuses([ref])
    with pytest.raises(ProviderInvalidResponse, match="payout"):
        client.cancel(ref)  # a 409 carrying the result: the same payout, refused alike


def assert_needs_a_person(outcome: object, case: ResponseCase) -> None:
    """A valid answer that does not fit the bet: the escalation sends it to a person."""
    assert isinstance(outcome, BetStatus), outcome
    assert (outcome.status, outcome.currency) == (ProviderStatus.SETTLED, "USD")
    now = datetime.now(UTC)
    policy = ProviderPolicy(name="hostile", base_url="http://127.0.0.1:9")  # type: ignore[arg-type]
    decision = decide_after_check(policy, stake=Decimal("10.00"), currency="EUR", answer=outcome,
                                  now=now, deadline=now + timedelta(minutes=10),
                                  placed_at=now - timedelta(minutes=1))
    assert (decision.action, decision.review_reason) == (Action.REVIEW, ReviewReason.AMBIGUOUS)
    assert case.named in decision.reason


@pytest.mark.parametrize("case", [case.param() for case in WALLET_CASES])
def test_a_hostile_wallet_answer_leaves_the_refund_in_its_category_naming_the_problem(
    sim: PrivateSim, case: ResponseCase
) -> None:
    bet_ref = sim.bet("unknown")
    key = refund_idempotency_key("hostile", bet_ref)
    wallet = wallet_client(sim)
    refund = {"idempotency_key": key, "provider": "hostile", "bet_ref": bet_ref,
              "amount": Decimal("10.00"), "currency": "EUR"}
    sim.fault(case.fault, case.times)  # the wallet's queue: these tests run one at a time

    outcome, elapsed = within(LIMIT_SECONDS, lambda: wallet.refund(**refund))  # type: ignore[arg-type]

    assert_refused_as(case, outcome)
    assert elapsed < LIMIT_SECONDS
    receipt = wallet.refund(**refund)  # type: ignore[arg-type]  # the retry, under the same key
    ledger = sim.control("/_sim/truth")["refunds"]
    assert [k for k, r in ledger.items() if r["bet_ref"] == bet_ref] == [key]
    assert ledger[key]["refund_id"] == receipt.refund_id, "the retry got the first refund back"


@pytest.fixture
def dripping(sim: PrivateSim) -> Iterator[DripProxy]:
    """The simulator behind a proxy that sends every answer a byte every half second,
    status line and headers included: no read waits as long as the read timeout."""
    proxy = DripProxy(sim.url, seconds_per_byte=0.5).start()
    yield proxy
    proxy.stop()


def test_a_provider_dripping_its_headers_is_cut_off_at_the_attempts_deadline(
    sim: PrivateSim, dripping: DripProxy
) -> None:
    ref = sim.bet("returned", payout="7.00")
    client = GenericHttpProvider(ProviderClientSettings(
        name="hostile", base_url=dripping.url, secret=sim.provider_secret,
        connect_timeout=1.0, read_timeout=1.0, attempts=ATTEMPTS), max_wait=0.1)

    outcome, _ = within(LIMIT_SECONDS, lambda: client.get_status(ref))

    assert isinstance(outcome, ProviderUnavailable), outcome
    assert "no whole answer within the attempt's 2 s" in str(outcome)
    wait_until(lambda: dripping.held.now == 0, describe=lambda: str(dripping.held))
    assert dripping.held.hung_up_in_head == dripping.held.total == 1  # a timeout: no retry


def test_a_wallet_dripping_its_headers_is_cut_off_and_leaves_the_refund_in_doubt(
    sim: PrivateSim, dripping: DripProxy
) -> None:
    bet_ref = sim.bet("unknown")
    wallet = HttpWallet(base_url=dripping.url, secret=sim.wallet_secret, connect_timeout=1.0,
                        read_timeout=1.0, attempts=ATTEMPTS, max_wait=0.1)
    refund = {"idempotency_key": refund_idempotency_key("hostile", bet_ref),
              "provider": "hostile", "bet_ref": bet_ref, "amount": Decimal("10.00"),
              "currency": "EUR"}

    outcome, _ = within(LIMIT_SECONDS, lambda: wallet.refund(**refund))  # type: ignore[arg-type]

    assert isinstance(outcome, WalletUnavailable), outcome
    assert "no whole answer within the attempt's 2 s" in str(outcome)
    wait_until(lambda: dripping.held.now == 0, describe=lambda: str(dripping.held))
    assert dripping.held.hung_up_in_head == dripping.held.total == 1  # a timeout: no retry
