"""The provider and wallet clients against the real simulator process, over loopback.

The simulator's truth (its own count of the requests it received) shows what
the clients really did on the wire: how often they retried, and that a
replayed refund was paid once.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from betguard.providers.base import ProviderStatus
from betguard.providers.client_settings import ProviderClientSettings
from betguard.providers.errors import (
    ProviderInvalidResponse,
    ProviderUnavailable,
    WalletRejected,
    WalletUnavailable,
)
from betguard.providers.generic import GenericHttpProvider
from betguard.providers.wallet import HttpWallet, refund_idempotency_key
from betguard_devkit.neighbours import DripProxy
from tests.integration.harness import wait_until

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
PROVIDER_SECRET = "sim-provider-secret"
WALLET_SECRET = "sim-wallet-secret"
START_TIMEOUT = 20.0


class Simulator:
    """The running simulator process and its unsigned control endpoints."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.controls = requests.Session()

    def control(self, path: str, body: dict[str, Any] | None = None) -> Any:
        if body is None:
            response = self.controls.get(self.base_url + path, timeout=5)
        else:
            response = self.controls.post(self.base_url + path, json=body, timeout=5)
        assert response.status_code < 300, f"{path}: {response.status_code} {response.text}"
        return response.json()

    def bet(self, ref: str, fate: str, **extra: Any) -> None:
        spec = {"bet_ref": ref, "stake": "10.00", "currency": "EUR", "fate": fate, **extra}
        self.control("/_sim/bets", spec)

    def fault(self, ref: str, fault: str, times: int = 1) -> None:
        self.control("/_sim/faults", {"bet_ref": ref, "fault": fault, "times": times})

    def queries(self, ref: str) -> int:
        return int(self.control("/_sim/truth")["bets"][ref]["queries"])


def _wait_for_port(port_file: Path, process: subprocess.Popen[bytes]) -> int:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        assert process.poll() is None, "the simulator exited during start-up"
        text = port_file.read_text().strip() if port_file.exists() else ""
        if text.isdigit():
            return int(text)
        time.sleep(0.05)
    raise AssertionError(f"no port in {port_file} after {START_TIMEOUT} s")


def _wait_healthy(base_url: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        try:
            if requests.get(base_url + "/healthz", timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{base_url}/healthz not healthy after {START_TIMEOUT} s")


@pytest.fixture(scope="module")
def simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    port_file = tmp_path_factory.mktemp("sim") / "port"
    command = [
        sys.executable,
        "-m",
        "betguard_devkit.simulator",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--port-file",
        str(port_file),
        "--provider-secret",
        PROVIDER_SECRET,
        "--wallet-secret",
        WALLET_SECRET,
    ]
    process = subprocess.Popen(command, cwd=REPO)
    try:
        base_url = f"http://127.0.0.1:{_wait_for_port(port_file, process)}"
        _wait_healthy(base_url)
        yield Simulator(base_url)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(autouse=True)
def fresh(simulator: Simulator) -> Iterator[None]:
    """Every test starts from an empty simulator with the knobs it started with."""
    knobs = simulator.control("/_sim/knobs")
    simulator.control("/_sim/reset", {})
    yield
    simulator.control("/_sim/knobs", knobs)


def provider(sim: Simulator, **overrides: Any) -> GenericHttpProvider:
    settings = ProviderClientSettings(name="sim", base_url=sim.base_url,
                                      secret=PROVIDER_SECRET, read_timeout=3.0)
    return GenericHttpProvider(replace(settings, **overrides), sleep=lambda _: None)


def wallet(sim: Simulator, secret: str = WALLET_SECRET) -> HttpWallet:
    return HttpWallet(base_url=sim.base_url, secret=secret, sleep=lambda _: None)


# --- statuses ------------------------------------------------------------------


def test_each_fate_reads_back_as_the_providers_status(simulator: Simulator) -> None:
    simulator.bet("r-1", "returned", payout="25.00")
    simulator.bet("d-1", "delayed", delay=600)
    simulator.bet("n-1", "never")
    simulator.bet("u-1", "unknown")
    client = provider(simulator)
    returned = client.get_status("r-1")
    assert returned.status is ProviderStatus.SETTLED
    assert (returned.payout, returned.currency) == (Decimal("25.00"), "EUR")
    assert returned.settled_at is not None
    assert client.get_status("d-1").status is ProviderStatus.PENDING
    assert client.get_status("n-1").status is ProviderStatus.PENDING
    assert client.get_status("u-1").status is ProviderStatus.UNKNOWN
    assert client.get_status("never-registered").status is ProviderStatus.UNKNOWN


def test_a_batch_answers_every_ref_in_one_request(simulator: Simulator) -> None:
    simulator.bet("r-1", "returned", payout="0.00")
    simulator.bet("n-1", "never")
    answers = provider(simulator, supports_batch=True).get_statuses(["r-1", "n-1", "ghost"])
    assert {ref: s.status.value for ref, s in answers.items()} == {
        "r-1": "settled",
        "n-1": "pending",
        "ghost": "unknown",
    }
    assert simulator.control("/_sim/truth")["counts"]["batch"] == 1


def test_a_malformed_batch_answer_is_invalid(simulator: Simulator) -> None:
    simulator.bet("r-1", "returned", payout="5.00")
    simulator.fault("r-1", "wrong_types")
    with pytest.raises(ProviderInvalidResponse, match="status"):
        provider(simulator, supports_batch=True).get_statuses(["r-1"])


# --- cancel --------------------------------------------------------------------


def test_cancelling_a_pending_bet_is_accepted_and_sticks(simulator: Simulator) -> None:
    simulator.bet("n-1", "never")
    outcome = provider(simulator).cancel("n-1")
    assert outcome.accepted and outcome.status.status is ProviderStatus.CANCELLED
    assert simulator.control("/_sim/truth")["bets"]["n-1"]["cancelled"] is True
    assert provider(simulator).cancel("n-1").accepted  # a repeated cancel changes nothing


def test_cancelling_a_settled_bet_returns_its_result_instead(simulator: Simulator) -> None:
    simulator.bet("r-1", "returned", payout="30.00")
    outcome = provider(simulator).cancel("r-1")
    assert not outcome.accepted
    assert (outcome.status.status, outcome.status.payout) == ("settled", Decimal("30.00"))


def test_cancelling_a_bet_the_provider_does_not_know_yet_fences_it_and_is_accepted(
    simulator: Simulator,
) -> None:
    simulator.bet("u-1", "returned", payout="30.00", lag=60)
    outcome = provider(simulator).cancel("u-1")
    assert outcome.accepted and outcome.status.status is ProviderStatus.CANCELLED
    assert simulator.control("/_sim/truth")["bets"]["u-1"]["fenced"] is True


def test_a_cancel_the_provider_answers_404_fences_nothing_and_is_not_accepted(
    simulator: Simulator,
) -> None:
    simulator.bet("u-2", "unknown", fenceable=False)
    outcome = provider(simulator).cancel("u-2")
    assert not outcome.accepted and outcome.status.status is ProviderStatus.UNKNOWN


# --- faults --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "names"),
    [
        ("bad_signature", "untrusted"),
        ("not_json", "body"),
        ("wrong_types", "status"),
        ("missing_fields", "status"),
        ("other_ref", "bet_ref"),
    ],
)
def test_a_spoiled_answer_is_an_invalid_response_and_is_not_retried(
    simulator: Simulator, fault: str, names: str
) -> None:
    simulator.bet("r-1", "returned", payout="5.00")
    simulator.bet("r-2", "returned", payout="7.00")
    simulator.fault("r-1", fault)
    with pytest.raises(ProviderInvalidResponse, match=names) as caught:
        provider(simulator).get_status("r-1")
    assert "r-1" in str(caught.value)
    assert simulator.queries("r-1") == 1


def test_one_503_is_retried_and_the_answer_after_it_is_used(simulator: Simulator) -> None:
    simulator.bet("r-1", "returned", payout="5.00")
    simulator.fault("r-1", "error_503")
    assert provider(simulator).get_status("r-1").payout == Decimal("5.00")
    assert simulator.queries("r-1") == 2


def test_503s_on_every_attempt_make_the_provider_unavailable(simulator: Simulator) -> None:
    simulator.bet("r-1", "returned", payout="5.00")
    simulator.fault("r-1", "error_503", times=3)
    with pytest.raises(ProviderUnavailable, match="503"):
        provider(simulator, attempts=3).get_status("r-1")
    assert simulator.queries("r-1") == 3


def test_an_outage_makes_the_provider_unavailable(simulator: Simulator) -> None:
    simulator.bet("r-1", "returned", payout="5.00")
    simulator.control("/_sim/knobs", {"outage": True})
    with pytest.raises(ProviderUnavailable, match="503"):
        provider(simulator, attempts=2).get_status("r-1")


def test_a_hanging_provider_is_given_up_on_within_the_read_timeouts(simulator: Simulator) -> None:
    simulator.bet("n-1", "never")
    simulator.control("/_sim/knobs", {"timeout_seconds": 2})
    simulator.fault("n-1", "timeout", times=2)
    client = provider(simulator, read_timeout=0.4, attempts=2)
    started = time.monotonic()
    with pytest.raises(ProviderUnavailable) as caught:
        client.get_status("n-1")
    assert time.monotonic() - started < 0.4 * 2 + 0.5
    assert not isinstance(caught.value, ProviderInvalidResponse)


@pytest.fixture
def dripping(simulator: Simulator) -> Iterator[DripProxy]:
    """The simulator behind a proxy sending its answers a byte every 0.05 s, status line
    and headers included: no single read waits long enough for a read timeout, and a
    whole answer (some 400 bytes) takes about 20 s."""
    proxy = DripProxy(simulator.base_url, seconds_per_byte=0.05).start()
    yield proxy
    proxy.stop()


def test_a_provider_dripping_its_answer_headers_included_is_cut_off_at_the_deadline(
    simulator: Simulator, dripping: DripProxy
) -> None:
    simulator.bet("r-1", "returned", payout="5.00")
    client = provider(simulator, base_url=dripping.url, connect_timeout=0.5, read_timeout=1.0,
                      attempts=1)

    with pytest.raises(ProviderUnavailable, match="no whole answer within the attempt's 1.5 s"):
        client.get_status("r-1")
    # the client hung up at its deadline, before even the headers had all arrived
    wait_until(lambda: dripping.held.now == 0, describe=lambda: str(dripping.held))
    assert (dripping.held.total, dripping.held.hung_up_in_head) == (1, 1)


def test_a_wallet_dripping_its_answer_is_cut_off_at_the_deadline_and_the_refund_stays_in_doubt(
    simulator: Simulator, dripping: DripProxy
) -> None:
    client = HttpWallet(base_url=dripping.url, secret=WALLET_SECRET, connect_timeout=0.5,
                        read_timeout=1.0, attempts=1, sleep=lambda _: None)

    with pytest.raises(WalletUnavailable, match="no whole answer within the attempt's 1.5 s"):
        refund(client)
    wait_until(lambda: dripping.held.now == 0, describe=lambda: str(dripping.held))
    assert (dripping.held.total, dripping.held.hung_up_in_head) == (1, 1)


def test_a_client_with_the_wrong_secret_gets_no_answer_it_can_trust(simulator: Simulator) -> None:
    simulator.bet("r-1", "returned", payout="5.00")
    with pytest.raises(ProviderInvalidResponse, match="untrusted"):
        provider(simulator, secret="wrong").get_status("r-1")


# --- wallet --------------------------------------------------------------------


def refund(client: HttpWallet, amount: str = "10.00", bet_ref: str = "n-1") -> str:
    key = refund_idempotency_key("sim", bet_ref)
    receipt = client.refund(
        idempotency_key=key,
        provider="sim",
        bet_ref=bet_ref,
        amount=Decimal(amount),
        currency="EUR",
    )
    assert receipt.idempotency_key == key
    return receipt.refund_id


def test_a_replayed_refund_returns_the_first_refund_and_pays_once(simulator: Simulator) -> None:
    first = refund(wallet(simulator))
    assert refund(wallet(simulator)) == first
    refunds = simulator.control("/_sim/truth")["refunds"]
    assert len(refunds) == 1
    assert refunds[refund_idempotency_key("sim", "n-1")]["requests"] == 2


def test_reusing_a_refund_key_for_another_amount_is_rejected(simulator: Simulator) -> None:
    refund(wallet(simulator))
    with pytest.raises(WalletRejected, match="reused"):
        refund(wallet(simulator), amount="11.00")


def test_a_wallet_503_is_retried_then_succeeds(simulator: Simulator) -> None:
    simulator.control("/_sim/faults", {"target": "wallet", "fault": "error_503", "times": 1})
    assert refund(wallet(simulator))
    assert simulator.control("/_sim/truth")["counts"]["refund"] == 2


def test_a_wallet_that_keeps_failing_leaves_the_refund_in_doubt(simulator: Simulator) -> None:
    simulator.control("/_sim/faults", {"target": "wallet", "fault": "error_503", "times": 3})
    with pytest.raises(WalletUnavailable, match="503"):
        refund(wallet(simulator))
    assert simulator.control("/_sim/truth")["refunds"] == {}
    assert refund(wallet(simulator))  # later, under the same key, it goes through once


def test_a_wallet_answer_under_the_wrong_secret_is_not_believed(simulator: Simulator) -> None:
    with pytest.raises(WalletUnavailable, match="untrusted"):
        refund(wallet(simulator, secret="wrong"))
