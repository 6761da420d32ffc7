"""The simulator, run as a real process and spoken to over real HTTP on loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import urllib3

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # the repository is not installed into the venv
    sys.path.insert(0, str(ROOT))

from betguard.providers.signing import (  # noqa: E402
    REQUEST_ID_HEADER,
    Exchange,
    SignatureError,
    new_request_id,
    sign_request,
    verify_response,
)
from betguard_devkit.simulator.knobs import Knobs  # noqa: E402

pytestmark = pytest.mark.integration

PROVIDER_SECRET = "provider-test-secret"
WALLET_SECRET = "wallet-test-secret"
START_TIMEOUT = 10.0


class Sim:
    """A small client for the simulator: signed provider and wallet calls, unsigned controls."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = requests.Session()

    def provider(
        self,
        method: str,
        path: str,
        payload: Any = None,
        *,
        secret: str | None = PROVIDER_SECRET,
        timeout: float = 5.0,
    ) -> requests.Response:
        body = b"" if payload is None else json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        if secret is not None:
            headers.update(sign_request(secret, Exchange(new_request_id(), method, path), body))
        return self.http.request(
            method, self.base + path, data=body, headers=headers, timeout=timeout
        )

    def status(self, ref: str, **kwargs: Any) -> requests.Response:
        return self.provider("GET", f"/bets/{ref}", **kwargs)

    def cancel(self, ref: str) -> requests.Response:
        return self.provider("POST", f"/bets/{ref}/cancel")

    def refund(self, payload: dict[str, Any], *, secret: str = WALLET_SECRET) -> requests.Response:
        return self.provider("POST", "/refunds", payload, secret=secret)

    def control(self, method: str, path: str, payload: Any = None) -> requests.Response:
        return self.http.request(method, self.base + path, json=payload, timeout=5.0)

    def register(self, ref: str, **spec: Any) -> dict[str, Any]:
        response = self.control("POST", "/_sim/bets", {"bet_ref": ref, **default_bet(spec)})
        assert response.status_code == 201, response.text
        return dict(response.json())

    def knobs(self, **changes: Any) -> None:
        response = self.control("POST", "/_sim/knobs", changes)
        assert response.status_code == 200, response.text

    def fault(self, fault: str, times: int = 1, **target: Any) -> None:
        response = self.control("POST", "/_sim/faults", {"fault": fault, "times": times, **target})
        assert response.status_code == 201, response.text

    def truth(self) -> dict[str, Any]:
        return dict(self.control("GET", "/_sim/truth").json())


def verify(secret: str, response: requests.Response) -> None:
    """Check that ``response`` is signed with ``secret`` as the answer to its own request."""
    request = response.request
    request_id = request.headers.get(REQUEST_ID_HEADER) or new_request_id()
    exchange = Exchange(str(request_id), str(request.method), str(request.path_url))
    verify_response(secret, response.headers, exchange, response.status_code, response.content)


def default_bet(spec: dict[str, Any]) -> dict[str, Any]:
    return {"stake": "10.00", "currency": "EUR", **spec}


def refund_payload(key: str = "refund:p1:b1", amount: str = "10.00") -> dict[str, Any]:
    return {
        "idempotency_key": key,
        "provider": "p1",
        "bet_ref": "b1",
        "amount": amount,
        "currency": "EUR",
    }


def wait_until_serving(process: subprocess.Popen[bytes], port_file: Path) -> str:
    """Wait (bounded) for the port file, then for /healthz to answer."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"simulator exited early with {process.returncode}")
        if port_file.exists():
            base = f"http://127.0.0.1:{int(port_file.read_text())}"
            try:
                if requests.get(base + "/healthz", timeout=1.0).ok:
                    return base
            except requests.ConnectionError:
                pass
        time.sleep(0.05)
    raise RuntimeError("simulator did not start in time")


def simulator_command(*extra: str) -> list[str]:
    return [sys.executable, "-m", "betguard_devkit.simulator", *extra]


def child_env() -> dict[str, str]:
    paths = [str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


@pytest.fixture(scope="module")
def simulator_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port_file = tmp_path_factory.mktemp("simulator") / "port"
    command = simulator_command(
        "--host", "127.0.0.1", "--port", "0", "--port-file", str(port_file),
        "--provider-secret", PROVIDER_SECRET, "--wallet-secret", WALLET_SECRET, "--seed", "7",
    )  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, env=child_env(), stdout=subprocess.DEVNULL)
    try:
        yield wait_until_serving(process, port_file)
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert process.returncode == 0, "the simulator did not exit cleanly on SIGTERM"


@pytest.fixture
def sim(simulator_url: str) -> Sim:
    """A fresh simulator for each test: no bets, refunds or faults, default knobs."""
    client = Sim(simulator_url)
    assert client.control("POST", "/_sim/reset").ok
    client.knobs(**Knobs().as_dict())
    return client


# -- fates -----------------------------------------------------------------


def test_a_returned_bet_is_settled_at_once_with_the_payout_the_game_server_got(sim: Sim) -> None:
    decision = sim.register("r1", fate="returned", payout="25.00")
    assert decision["fate"] == "returned" and decision["payout"] == "25.00"
    assert decision["result_at"] is not None
    answer = sim.status("r1").json()
    assert answer["status"] == "settled" and answer["payout"] == "25.00"
    assert answer["currency"] == "EUR" and answer["settled_at"] == decision["result_at"]


def test_a_delayed_bet_is_pending_until_its_delay_has_passed_then_settled(sim: Sim) -> None:
    decision = sim.register("d1", fate="delayed", delay=0.3, payout="0.00")
    assert decision["payout"] is None, "the game server did not get a result"
    assert sim.status("d1").json() == {
        "bet_ref": "d1", "status": "pending", "payout": None, "currency": "EUR", "settled_at": None,
    }  # fmt: skip
    time.sleep(0.35)
    answer = sim.status("d1").json()
    assert answer["status"] == "settled" and answer["payout"] == "0.00"


def test_a_never_bet_stays_pending(sim: Sim) -> None:
    assert sim.register("n1", fate="never")["result_at"] is None
    assert sim.status("n1").json()["status"] == "pending"


def test_an_unknown_bet_is_answered_404_but_listed_in_the_truth(sim: Sim) -> None:
    sim.register("u1", fate="unknown")
    response = sim.status("u1")
    assert response.status_code == 404 and response.json() == {"error": "unknown bet"}
    assert sim.truth()["bets"]["u1"]["status_now"] == "unknown"


def test_a_ref_never_registered_is_answered_404(sim: Sim) -> None:
    assert sim.status("nobody").status_code == 404


def test_registering_the_same_ref_again_returns_the_first_decision(sim: Sim) -> None:
    first = sim.register("same", fate="never")
    again = sim.control("POST", "/_sim/bets", {"bet_ref": "same", **default_bet({})})
    assert again.status_code == 200 and again.json() == first


def test_many_bets_can_be_registered_at_once(sim: Sim) -> None:
    bets = [{"bet_ref": f"m{i}", **default_bet({"fate": "never"})} for i in range(3)]
    response = sim.control("POST", "/_sim/bets", {"bets": bets})
    assert response.status_code == 201
    assert [bet["bet_ref"] for bet in response.json()["bets"]] == ["m0", "m1", "m2"]


def test_fates_and_payouts_are_drawn_from_the_knobs_when_not_given(sim: Sim) -> None:
    sim.knobs(share_returned=0, share_delayed=1, share_never=0, share_unknown=0,
              delay_range=[0.1, 0.2])  # fmt: skip
    decisions = [sim.register(f"x{i}", stake="10.00") for i in range(20)]
    assert {decision["fate"] for decision in decisions} == {"delayed"}
    payouts = {bet["payout"] for bet in sim.truth()["bets"].values()}
    assert payouts <= {"0.00", "15.00", "20.00", "30.00"} and len(payouts) > 1


def test_a_bad_registration_is_refused_naming_the_field(sim: Sim) -> None:
    response = sim.control("POST", "/_sim/bets", {"bet_ref": "b", "stake": 10, "currency": "EUR"})
    assert response.status_code == 400 and response.json()["field"] == "stake"
    response = sim.control("POST", "/_sim/bets", {"bets": [{"bet_ref": "b", "stake": "1.00"}]})
    assert response.status_code == 400 and response.json()["field"] == "bets[0].currency"


# -- batch status and cancel -------------------------------------------------


def test_batch_status_lists_known_bets_and_the_refs_never_seen(sim: Sim) -> None:
    sim.register("k1", fate="returned", payout="5.00")
    sim.register("k2", fate="never")
    sim.register("k3", fate="unknown")
    answer = sim.provider("POST", "/bets/status", {"bet_refs": ["k1", "k2", "k3", "zz"]}).json()
    assert [(b["bet_ref"], b["status"]) for b in answer["bets"]] == [
        ("k1", "settled"),
        ("k2", "pending"),
    ]
    assert answer["unknown"] == ["k3", "zz"]


def test_batch_status_refuses_more_than_500_refs(sim: Sim) -> None:
    refs = [f"r{i}" for i in range(501)]
    response = sim.provider("POST", "/bets/status", {"bet_refs": refs})
    assert response.status_code == 400 and "bet_refs" in response.json()["error"]


def test_cancelling_a_pending_bet_cancels_it_for_good(sim: Sim) -> None:
    sim.register("c1", fate="delayed", delay=0.3)
    response = sim.cancel("c1")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled" and response.json()["payout"] is None
    time.sleep(0.35)
    assert sim.status("c1").json()["status"] == "cancelled"


def test_cancelling_a_bet_with_a_result_answers_409_with_that_result(sim: Sim) -> None:
    sim.register("c2", fate="returned", payout="30.00")
    response = sim.cancel("c2")
    assert response.status_code == 409
    assert response.json()["status"] == "settled" and response.json()["payout"] == "30.00"


def test_cancelling_twice_gives_the_same_answer(sim: Sim) -> None:
    sim.register("c3", fate="never")
    first, second = sim.cancel("c3"), sim.cancel("c3")
    assert first.status_code == second.status_code == 200 and first.json() == second.json()
    assert sim.truth()["bets"]["c3"]["cancels"] == 2


def test_cancelling_a_bet_the_provider_never_saw_leaves_a_tombstone(sim: Sim) -> None:
    sim.register("c4", fate="unknown")
    response = sim.cancel("c4")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert sim.status("c4").json()["status"] == "cancelled", "the provider remembers the cancel"
    fact = sim.truth()["bets"]["c4"]
    assert (fact["cancelled"], fact["fenced"], fact["settled"]) == (True, True, False)


def test_a_bet_that_cannot_be_fenced_answers_its_cancel_404(sim: Sim) -> None:
    sim.register("c5", fate="unknown", fenceable=False)
    assert sim.cancel("c5").status_code == 404
    fact = sim.truth()["bets"]["c5"]
    assert (fact["cancelled"], fact["fenced"], fact["fenceable"]) == (False, False, False)


def test_a_provider_without_tombstones_answers_a_cancel_of_a_ref_it_never_saw_404(
    sim: Sim,
) -> None:
    sim.knobs(tombstones=False)
    assert sim.cancel("nobody-yet").status_code == 404
    assert sim.truth()["tombstones"] == {}


def test_a_late_registration_of_a_fenced_ref_is_refused_and_never_settles(sim: Sim) -> None:
    response = sim.cancel("late1")
    assert response.status_code == 200
    assert response.json() == {"bet_ref": "late1", "status": "cancelled", "payout": None,
                               "currency": None, "settled_at": None}
    assert "late1" in sim.truth()["tombstones"]

    decision = sim.register("late1", fate="delayed", delay=0.2, payout="40.00")
    time.sleep(0.3)

    assert decision["fenced"] is True and decision["payout"] is None
    assert sim.status("late1").json()["status"] == "cancelled"
    truth = sim.truth()
    fact = truth["bets"]["late1"]
    assert (fact["status_now"], fact["fenced"], fact["settled"]) == ("cancelled", True, False)
    assert fact["settled_payout"] is None and "late1" not in truth["tombstones"]
    assert sim.cancel("late1").status_code == 200, "a repeated cancel changes nothing"


# -- registration lag ----------------------------------------------------------


def test_a_bet_registered_late_answers_404_during_its_lag_then_follows_its_fate(
    sim: Sim,
) -> None:
    decision = sim.register("lag1", fate="delayed", delay=0.1, payout="25.00", lag=0.5)
    assert decision["lag"] == 0.5
    assert sim.status("lag1").status_code == 404
    batch = sim.provider("POST", "/bets/status", {"bet_refs": ["lag1"]}).json()
    assert batch == {"bets": [], "unknown": ["lag1"]}
    assert sim.truth()["bets"]["lag1"]["status_now"] == "unknown"

    time.sleep(0.6)

    answer = sim.status("lag1").json()
    assert (answer["status"], answer["payout"]) == ("settled", "25.00")
    fact = sim.truth()["bets"]["lag1"]
    assert (fact["settled"], fact["settled_payout"], fact["cancelled"]) == (True, "25.00", False)
    assert sim.cancel("lag1").status_code == 409


def test_a_cancel_during_the_lag_fences_the_bet_so_it_never_settles(sim: Sim) -> None:
    sim.register("lag2", fate="returned", payout="30.00", lag=0.4)
    assert sim.status("lag2").status_code == 404

    response = sim.cancel("lag2")
    time.sleep(0.5)

    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert sim.status("lag2").json()["status"] == "cancelled"
    fact = sim.truth()["bets"]["lag2"]
    assert (fact["fenced"], fact["settled"], fact["status_now"]) == (True, False, "cancelled")


def test_registration_lags_are_drawn_per_bet_from_the_knob_when_not_given(sim: Sim) -> None:
    sim.knobs(registration_lag_range=[1.0, 6.0])
    lags = [sim.register(f"lg{i}", fate="never")["lag"] for i in range(10)]
    given = sim.register("lg-given", fate="never", lag=0.0)["lag"]
    assert all(1.0 <= lag <= 6.0 for lag in lags) and len(set(lags)) == 10
    assert given == 0.0
    assert sim.truth()["bets"]["lg0"]["known_from"] is not None


def test_the_same_seed_draws_the_same_lags(sim: Sim) -> None:
    sim.knobs(registration_lag_range=[1.0, 6.0])
    first = [sim.register(f"s{i}", fate="never")["lag"] for i in range(5)]
    assert sim.control("POST", "/_sim/reset").ok
    again = [sim.register(f"s{i}", fate="never")["lag"] for i in range(5)]
    assert first == again


def test_a_hostile_provider_words_a_settled_payout_exactly_as_the_spec_says(sim: Sim) -> None:
    sim.register("hp1", fate="returned", payout="3.00", payout_sent="\u0663.00")
    sim.register("hp2", fate="returned", payout="0.00", payout_sent=-0.0)
    sim.register("hp3", fate="never", payout_sent="\u0663.00")
    assert sim.status("hp1").json()["payout"] == "\u0663.00"
    assert b'"payout":-0.0' in sim.status("hp2").content
    assert sim.status("hp3").json()["payout"] is None, "only a settled bet has a payout"
    assert sim.truth()["bets"]["hp1"]["payout"] == "3.00", "the truth stays plain"


@pytest.mark.parametrize(
    ("spec", "field"),
    [({"payout_sent": True}, "payout_sent"), ({"payout_sent": [1]}, "payout_sent"),
     ({"lag": -1}, "lag"), ({"lag": "soon"}, "lag"), ({"lag": True}, "lag"),
     ({"fenceable": "no"}, "fenceable"), ({"fenceable": 0}, "fenceable")],
)
def test_a_bad_lag_or_fenceable_flag_is_refused_naming_the_field(
    sim: Sim, spec: dict[str, Any], field: str
) -> None:
    response = sim.control("POST", "/_sim/bets", {"bet_ref": "bad", **default_bet(spec)})
    assert response.status_code == 400 and response.json()["field"] == field


# -- signatures --------------------------------------------------------------


@pytest.mark.parametrize("secret", [None, "wrong-secret", WALLET_SECRET])
def test_a_request_without_the_provider_signature_is_refused_401(
    sim: Sim, secret: str | None
) -> None:
    sim.register("s1", fate="never")
    response = sim.status("s1", secret=secret)
    assert response.status_code == 401 and "error" in response.json()


def test_every_provider_answer_to_a_request_carries_a_valid_signature(sim: Sim) -> None:
    sim.register("s2", fate="never")
    for response in (sim.status("s2"), sim.status("nobody"),
                     sim.status("s2", secret="wrong-secret")):
        verify(PROVIDER_SECRET, response)
    unsigned = sim.status("s2", secret=None)  # no request id: there is nothing to bind to
    assert unsigned.status_code == 401


def test_wallet_answers_are_signed_with_the_wallet_secret(sim: Sim) -> None:
    response = sim.refund(refund_payload())
    verify(WALLET_SECRET, response)
    with pytest.raises(SignatureError):
        verify(PROVIDER_SECRET, response)
    assert sim.refund(refund_payload(), secret=PROVIDER_SECRET).status_code == 401


# -- wallet ------------------------------------------------------------------


def test_a_refund_replay_returns_the_first_answer_and_is_counted(sim: Sim) -> None:
    first = sim.refund(refund_payload())
    replay = sim.refund(refund_payload(amount="10"))
    assert first.status_code == 201 and replay.status_code == 200
    assert replay.json() == first.json()
    assert first.json()["refund_id"] == "rf-1" and first.json()["status"] == "refunded"
    refund = sim.truth()["refunds"]["refund:p1:b1"]
    assert refund["requests"] == 2 and refund["amount"] == "10.00"


def test_reusing_a_refund_key_with_another_payload_answers_409(sim: Sim) -> None:
    sim.refund(refund_payload())
    response = sim.refund(refund_payload(amount="11.00"))
    assert response.status_code == 409
    assert response.json() == {"error": "idempotency key reused with a different payload"}


def test_a_malformed_refund_is_refused_naming_the_field(sim: Sim) -> None:
    response = sim.refund({**refund_payload(), "amount": 10.0})
    assert response.status_code == 400 and response.json()["field"] == "amount"
    assert sim.truth()["refunds"] == {}


# -- faults ------------------------------------------------------------------


def spoiled(fault: str, response: requests.Response, ref: str) -> bool:
    """Whether ``response`` shows the fault it was meant to show."""
    if fault == "bad_signature":
        try:
            verify(PROVIDER_SECRET, response)
        except SignatureError:
            return True
        return False
    verify(PROVIDER_SECRET, response)  # spoiled, but signed
    if fault == "error_503":
        return response.status_code == 503
    if fault == "not_json":
        try:
            response.json()
        except ValueError:
            return True
        return False
    body = response.json()
    if fault == "wrong_types":
        return not isinstance(body["status"], str) and not isinstance(body["payout"], str | None)
    if fault == "missing_fields":
        return "status" not in body and "payout" not in body
    return bool(fault == "other_ref" and body["bet_ref"] != ref)


@pytest.mark.parametrize(
    "fault",
    ["bad_signature", "not_json", "wrong_types", "missing_fields", "other_ref", "error_503"],
)
def test_a_targeted_fault_spoils_the_next_answers_about_that_bet_then_stops(
    sim: Sim, fault: str
) -> None:
    sim.register("f1", fate="returned", payout="20.00")
    sim.register("f2", fate="never")
    sim.fault(fault, times=2, bet_ref="f1")
    assert sim.status("f2").json()["status"] == "pending", "other bets are not affected"
    assert spoiled(fault, sim.status("f1"), "f1")
    assert spoiled(fault, sim.status("f1"), "f1")
    assert sim.status("f1").json()["payout"] == "20.00"
    assert sim.truth()["counts"]["faults_injected"] == 2


def test_a_targeted_fault_also_spoils_a_batch_answer_that_mentions_the_bet(sim: Sim) -> None:
    sim.register("g1", fate="never")
    sim.register("g2", fate="never")
    sim.fault("other_ref", bet_ref="g2")
    answer = sim.provider("POST", "/bets/status", {"bet_refs": ["zz", "g1", "g2"]}).json()
    assert sorted(bet["bet_ref"] for bet in answer["bets"]) != ["g1", "g2"]


def test_a_timeout_fault_holds_the_answer_past_the_clients_read_timeout(sim: Sim) -> None:
    sim.knobs(timeout_seconds=0.5)
    sim.register("t1", fate="never")
    sim.fault("timeout", bet_ref="t1")
    with pytest.raises(requests.ReadTimeout):
        sim.status("t1", timeout=0.2)
    assert sim.status("t1").json()["status"] == "pending"


def test_a_cancel_answered_503_did_not_cancel(sim: Sim) -> None:
    sim.register("f3", fate="never")
    sim.fault("error_503", bet_ref="f3")
    assert sim.cancel("f3").status_code == 503
    assert sim.truth()["bets"]["f3"]["cancelled"] is False


def test_a_wallet_503_records_no_refund(sim: Sim) -> None:
    sim.fault("error_503", target="wallet")
    assert sim.refund(refund_payload()).status_code == 503
    assert sim.truth()["refunds"] == {}
    assert sim.refund(refund_payload()).status_code == 201


def test_a_wallet_timeout_records_the_refund_but_leaves_it_in_doubt(sim: Sim) -> None:
    sim.knobs(timeout_seconds=0.5)
    sim.fault("timeout", target="wallet")
    with pytest.raises(requests.ReadTimeout):
        sim.provider("POST", "/refunds", refund_payload(), secret=WALLET_SECRET, timeout=0.2)
    assert "refund:p1:b1" in sim.truth()["refunds"]
    assert sim.refund(refund_payload()).status_code == 200, "the retry is a replay"


def looks_valid(response: requests.Response, ref: str) -> bool:
    """What a validating client would accept as an answer about ``ref``."""
    try:
        verify(PROVIDER_SECRET, response)
        body = response.json()
    except (SignatureError, ValueError):
        return False
    fields = (body.get("bet_ref"), body.get("status"), body.get("payout"))
    return fields[0] == ref and isinstance(fields[1], str) and isinstance(fields[2], str | None)


@pytest.mark.parametrize("knob", ["malformed_rate", "bad_signature_rate"])
def test_the_malformed_and_bad_signature_rates_spoil_answers(sim: Sim, knob: str) -> None:
    sim.register("m1", fate="returned", payout="20.00")
    sim.knobs(**{knob: 1.0})
    assert not any(looks_valid(sim.status("m1"), "m1") for _ in range(8))
    sim.knobs(**{knob: 0.0})
    assert looks_valid(sim.status("m1"), "m1")


def test_the_error_rate_knob_answers_503(sim: Sim) -> None:
    sim.register("e1", fate="never")
    sim.knobs(error_rate=1.0, wallet_error_rate=1.0)
    assert sim.status("e1").status_code == 503
    assert sim.refund(refund_payload()).status_code == 503


def test_the_outage_knob_answers_503_on_every_provider_endpoint(sim: Sim) -> None:
    sim.register("o1", fate="never")
    sim.knobs(outage=True)
    assert sim.status("o1").status_code == 503
    assert sim.provider("POST", "/bets/status", {"bet_refs": ["o1"]}).status_code == 503
    assert sim.cancel("o1").status_code == 503
    assert sim.refund(refund_payload()).status_code == 201, "the wallet is not the provider"
    sim.knobs(outage=False)
    assert sim.status("o1").status_code == 200


def test_an_outage_window_covering_now_answers_503(sim: Sim) -> None:
    sim.register("o2", fate="never")
    sim.knobs(outage_windows=[[0, 86400]])
    assert sim.status("o2").status_code == 503


def test_a_bad_knob_is_refused_naming_it(sim: Sim) -> None:
    for changes, key in (({"error_rate": 2}, "error_rate"), ({"colour": 1}, "colour")):
        response = sim.control("POST", "/_sim/knobs", changes)
        assert response.status_code == 400 and response.json()["field"] == key
    assert sim.control("GET", "/_sim/knobs").json()["error_rate"] == 0.0


# -- observation -------------------------------------------------------------


def test_the_truth_counts_every_request_by_kind_and_by_bet(sim: Sim) -> None:
    sim.register("t2", fate="never")
    sim.status("t2")
    sim.provider("POST", "/bets/status", {"bet_refs": ["t2", "zz"]})
    sim.cancel("t2")
    sim.refund(refund_payload())
    truth = sim.truth()
    assert truth["counts"] == {
        "status": 1, "batch": 1, "cancel": 1, "refund": 1, "faults_injected": 0, "unauthorized": 0,
    }  # fmt: skip
    bet = truth["bets"]["t2"]
    assert (bet["queries"], bet["batched_queries"], bet["cancels"], bet["status_now"]) == \
        (2, 1, 1, "cancelled")


def test_the_log_lists_provider_requests_since_a_moment(sim: Sim) -> None:
    sim.register("l1", fate="never")
    since = time.time() - 0.001
    sim.status("l1")
    sim.status("nobody")
    entries = sim.control("GET", f"/_sim/log?since={since}").json()["requests"]
    assert [(e["method"], e["path"], e["status"]) for e in entries] == [
        ("GET", "/bets/l1", 200),
        ("GET", "/bets/nobody", 404),
    ]


def test_reset_clears_the_truth_but_keeps_the_knobs(sim: Sim) -> None:
    sim.knobs(latency_ms=1)
    sim.register("z1", fate="never")
    sim.status("z1")
    assert sim.control("POST", "/_sim/reset").ok
    truth = sim.truth()
    assert truth["bets"] == {} and truth["counts"]["status"] == 0
    assert sim.control("GET", "/_sim/log?since=0").json()["requests"] == []
    assert sim.control("GET", "/_sim/knobs").json()["latency_ms"] == 1.0


def test_a_body_over_one_megabyte_is_refused_413(sim: Sim) -> None:
    response = sim.provider("POST", "/bets/status", {"bet_refs": ["x" * (1024 * 1024)]})
    assert response.status_code == 413


def test_the_simulator_refuses_to_listen_beyond_loopback() -> None:
    result = subprocess.run(
        simulator_command("--host", "0.0.0.0", "--provider-secret", "p", "--wallet-secret", "w"),
        cwd=ROOT, env=child_env(), capture_output=True, text=True, timeout=10,
    )  # fmt: skip
    assert result.returncode == 2 and "loopback" in result.stderr


def test_the_simulator_reports_its_own_collector_pauses(sim: Sim) -> None:
    answer = sim.control("GET", "/_sim/pauses?since=0")

    assert answer.status_code == 200 and isinstance(answer.json()["pauses"], list)
    refused = sim.control("GET", "/_sim/pauses?since=soon")
    assert refused.status_code == 400 and refused.json()["field"] == "since"


# -- connections ---------------------------------------------------------------


def test_one_connection_carries_many_calls_even_after_a_body_left_unread(
    sim: Sim, simulator_url: str,
) -> None:
    sim.register("k1", fate="never")
    pool = urllib3.connectionpool.connection_from_url(simulator_url, maxsize=1)
    body = json.dumps({"bet_refs": ["k1"]}).encode()
    path = "/bets/status"
    refused = pool.request("POST", path, body=body, headers={"Content-Type": "application/json"})
    assert refused.status == 401, "unsigned: refused before its body is looked at"
    for _ in range(3):
        signed = sign_request(PROVIDER_SECRET, Exchange(new_request_id(), "POST", path), body)
        answer = pool.request("POST", path, body=body,
                              headers={"Content-Type": "application/json", **signed})
        assert answer.status == 200 and answer.json()["bets"][0]["bet_ref"] == "k1"
        assert answer.headers.get("Connection") is None

    assert pool.num_connections == 1, "every call after the first reused the connection"


def test_an_answer_that_declares_more_body_than_it_sends_still_closes_its_connection(
    sim: Sim, simulator_url: str,
) -> None:
    sim.register("k2", fate="never")
    sim.fault("truncated_body", bet_ref="k2")
    pool = urllib3.connectionpool.connection_from_url(simulator_url, maxsize=1)
    path = "/bets/k2"
    signed = sign_request(PROVIDER_SECRET, Exchange(new_request_id(), "GET", path), b"")
    answer = pool.request("GET", path, headers=signed, preload_content=False)

    assert "close" in answer.headers["Connection"]
    with pytest.raises(urllib3.exceptions.ProtocolError):
        answer.read()
