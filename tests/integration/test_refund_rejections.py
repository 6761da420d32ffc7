"""A refund the wallet rejects is no dead end: betguard retries it a few times, then
stops and waits, its review open, for a person to retry it (same key), record it as
paid outside betguard, or settle the bet. On the running stack, with the simulator's
wallet refusing for real."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import select

from betguard.models.domain.snapshot import BetSnapshot
from betguard.models.domain.states import BetState
from betguard.models.store.tables import SweepStat
from betguard.providers.wallet import refund_idempotency_key
from betguard.services.intake import place_bet
from betguard.services.refunds import MAX_REJECTIONS
from betguard.services.results import report_result
from tests.integration.api_server import Api, path_of
from tests.integration.harness import Stack, bet_payload, wait_until
from tests.integration.ops import REFUNDER, betguard, label, one_error_line, rejected_refund

pytestmark = pytest.mark.integration

PROVIDER = REFUNDER





def sweep_runs(stack: Stack) -> int:
    with stack.context.db.unit_of_work() as session:
        return int(session.scalar(select(SweepStat.runs).where(SweepStat.kind == "refunds"))
                   or 0)


def open_reasons(stack: Stack, bet: BetSnapshot) -> list[str]:
    return [r.reason for r in stack.reviews(bet.id) if r.resolved_at is None]


def test_a_refund_the_wallet_keeps_rejecting_is_tried_a_few_times_then_waits_for_a_person(
    stack: Stack,
) -> None:
    bet = rejected_refund(stack, for_good=True)
    kinds = stack.kinds(bet.id)
    assert bet.state is BetState.REFUND_PENDING
    assert bet.next_check_at is None  # no sweep picks it up
    assert kinds.count("refund_rejected") == kinds.count("refund_started") == MAX_REJECTIONS
    assert kinds[-1] == "refund_retries_stopped"
    assert open_reasons(stack, bet) == ["refund_rejected"]
    runs = sweep_runs(stack)
    wait_until(lambda: sweep_runs(stack) >= runs + 3, 30)
    assert stack.kinds(bet.id) == kinds, "a sweep tried the stopped refund again"
    assert stack.refund_requests(bet) == 1 + MAX_REJECTIONS  # the other refund, then ours


def test_acknowledging_a_refund_the_wallet_stopped_rejecting_is_refused_naming_the_ways_out(
    stack: Stack, api: Api,
) -> None:
    """Acknowledging would close the bet's only open review while no sweep takes it: the
    stake would never be returned. Refused from the CLI and the API, changing nothing,
    and a way out still works afterwards."""
    bet = rejected_refund(stack, for_good=False)
    version = stack.row(bet.id).version
    run = betguard(stack, "review", "resolve", label(bet), "--acknowledge",
                   "--note", "seen it", "--operator", "dora")
    one_error_line(run, "is refund_pending, not final")
    for way_out in ("retry the refund", "record it as refunded outside betguard", "settle it"):
        assert way_out in run.err
    path = path_of({"provider": bet.provider, "bet_ref": bet.bet_ref}, "resolve")
    answer = api.ops("POST", path, json={"resolution": "acknowledged", "note": "seen it"})
    assert answer.status_code == 409, answer.text
    assert "retry the refund" in answer.json()["error"]
    assert open_reasons(stack, bet) == ["refund_rejected"]
    assert stack.row(bet.id).version == version and stack.bet(bet.id).next_check_at is None

    retried = betguard(stack, "review", "resolve", label(bet), "--retry-refund",
                       "--note", "the wallet fixed its limits", "--operator", "dora")
    assert retried.code == 0, retried.err
    stack.wait_for_state(bet.id, BetState.REFUNDED)


def test_an_operator_records_a_rejected_refund_as_paid_outside_betguard_from_the_cli(
    stack: Stack,
) -> None:
    bet = rejected_refund(stack, for_good=True)
    asked = stack.refund_requests(bet)
    run = betguard(stack, "review", "resolve", label(bet), "--refunded-outside", "TX-4711",
                   "--note", "paid back by bank transfer", "--operator", "dora")
    assert run.code == 0, run.err
    assert "refunded" in run.out
    after = stack.bet(bet.id)
    assert after.state is BetState.REFUNDED
    refunded = [e for e in stack.history(bet.id) if e.kind == "bet_refunded"]
    assert [(e.actor, e.detail["reference"], e.detail["outside_betguard"]) for e in refunded] \
        == [("operator:dora", "TX-4711", True)]
    [review] = stack.reviews(bet.id)
    assert (review.resolution, review.operator) == ("refunded_outside", "dora")
    assert stack.refund_requests(bet) == asked  # the wallet was not asked again


def test_an_operator_settles_a_bet_whose_refund_the_wallet_rejected_through_the_api(
    stack: Stack, api: Api,
) -> None:
    bet = rejected_refund(stack, for_good=True)
    body = {"resolution": "settled", "payout": "40.00", "note": "the provider had a result"}
    answer = api.ops("POST", path_of({"provider": bet.provider, "bet_ref": bet.bet_ref},
                                     "resolve"), json=body)
    assert answer.status_code == 200, answer.text
    assert (answer.json()["bet"]["state"], answer.json()["bet"]["payout"]) == ("settled",
                                                                             "40.00")
    settled = [e for e in stack.history(bet.id) if e.kind == "bet_settled"]
    assert [(e.actor, e.detail["instead_of_refund"]) for e in settled] == [
        ("operator:alice", True)]


def test_an_operator_retries_a_rejected_refund_under_its_one_key_and_it_is_paid_once(
    stack: Stack, api: Api,
) -> None:
    bet = rejected_refund(stack, for_good=False)
    key = refund_idempotency_key(bet.provider, bet.bet_ref)
    body = {"resolution": "retry_refund", "note": "the wallet fixed its limits"}
    answer = api.ops("POST", path_of({"provider": bet.provider, "bet_ref": bet.bet_ref},
                                     "resolve"), json=body)
    assert answer.status_code == 200, answer.text
    stack.wait_for_state(bet.id, BetState.REFUNDED)
    ordered = [e for e in stack.history(bet.id) if e.kind == "refund_retry_ordered"]
    assert [(e.actor, e.detail["idempotency_key"]) for e in ordered] == [
        ("operator:alice", key)]
    truth = stack.truth()
    assert list(k for k in truth["refunds"] if k == key) == [key]
    assert truth["refunds"][key]["amount"] == "10.00"
    assert truth["refund_requests"][key] == MAX_REJECTIONS + 1


def test_a_refund_in_doubt_is_never_settled_by_an_operator_for_the_wallet_may_have_paid(
    stack: Stack, api: Api,
) -> None:
    ref = f"doubt-{secrets.token_hex(6)}"
    stack.sim("POST", "/_sim/bets", {"bet_ref": ref, "stake": "10.00", "currency": "EUR",
                                     "fate": "unknown"})
    stack.sim("POST", "/_sim/knobs", {"wallet_error_rate": 1.0})
    try:
        bet = place_bet(stack.context, bet_payload(PROVIDER, ref)).bet
        wait_until(lambda: "refund_failed" in stack.kinds(bet.id), 30)
        report_result(stack.context, PROVIDER, ref, payout="40.00", currency="EUR")
        assert open_reasons(stack, bet) == ["conflict"]
        path = path_of({"provider": PROVIDER, "bet_ref": ref}, "resolve")
        settle = {"resolution": "settled", "payout": "40.00", "note": "the provider won it"}
        refused = api.ops("POST", path, json=settle)
        assert refused.status_code == 409, refused.text
        assert "did not reject its refund" in refused.json()["error"]
        assert stack.bet(bet.id).state is BetState.REFUND_PENDING
    finally:
        stack.sim("POST", "/_sim/knobs", {"wallet_error_rate": 0.0})
    stack.wait_for_state(bet.id, BetState.REFUNDED)


def test_a_conflict_on_a_refund_under_way_is_acknowledged_once_the_bet_is_refunded(
    stack: Stack, api: Api,
) -> None:
    """While the refund is in doubt the conflict review stays open (the bet is not
    final); once the wallet paid, the refund stands and the conflict is acknowledged."""
    ref = f"doubt-{secrets.token_hex(6)}"
    stack.sim("POST", "/_sim/bets", {"bet_ref": ref, "stake": "10.00", "currency": "EUR",
                                     "fate": "unknown"})
    path = path_of({"provider": PROVIDER, "bet_ref": ref}, "resolve")
    acknowledge = {"resolution": "acknowledged", "note": "the refund stands"}
    stack.sim("POST", "/_sim/knobs", {"wallet_error_rate": 1.0})
    try:
        bet = place_bet(stack.context, bet_payload(PROVIDER, ref)).bet
        wait_until(lambda: "refund_failed" in stack.kinds(bet.id), 30)
        report_result(stack.context, PROVIDER, ref, payout="40.00", currency="EUR")
        refused = api.ops("POST", path, json=acknowledge)
        assert refused.status_code == 409, refused.text
        assert "is refund_pending, not final" in refused.json()["error"]
        assert open_reasons(stack, bet) == ["conflict"]
    finally:
        stack.sim("POST", "/_sim/knobs", {"wallet_error_rate": 0.0})
    stack.wait_for_state(bet.id, BetState.REFUNDED)
    answer = api.ops("POST", path, json=acknowledge)
    assert answer.status_code == 200, answer.text
    assert answer.json()["bet"]["state"] == "refunded" and open_reasons(stack, bet) == []
