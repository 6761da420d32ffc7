"""Four eyes through the API, on the real stack: a settle or refund above the provider's
threshold is proposed, never applied by one key; another key with the approver role
approves it, and the money moves once (docs/console.md)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from betguard.models.domain.access import Actor, Role
from betguard.models.domain.errors import IllegalTransition
from betguard.models.domain.events import Resolution
from betguard.models.store.tables import AccessEvent
from betguard.services import approvals
from betguard.services.reviews import Resolve
from tests.integration.api_server import Api, path_of
from tests.integration.harness import Stack

BIG = "900.00"  # above the default four_eyes_above (500)


def _carol_proposes_a_refund(stack: Stack, bet: dict[str, Any], *,
                             lifetime: timedelta = timedelta(hours=1)) -> approvals.Proposed:
    return approvals.propose(stack.context, Resolve(
        bet["provider"], bet["bet_ref"], Resolution.REFUNDED, "carol", "lost"),
        Actor("carol", Role.OPERATOR, "cli"), lifetime=lifetime)


def _in_review(api: Api, stack: Stack, stake: str) -> dict[str, Any]:
    bet = api.place(stack, "reviewer", fate="never", stake=stake)
    return api.wait_for_state(bet, "in_review")["bet"]


def test_a_big_refund_is_proposed_and_moves_no_money_until_another_person_approves(
        api: Api, stack: Stack) -> None:
    bet = _in_review(api, stack, BIG)
    asked = api.ops("POST", path_of(bet, "resolve"),
                    json={"resolution": "refunded", "note": "provider lost it"})
    assert asked.status_code == 202, asked.text
    proposal = asked.json()["proposal"]
    assert (proposal["state"], proposal["proposed_by"], proposal["amount"]) == (
        "open", "alice", "900.00")
    assert api.game("GET", path_of(bet)).json()["bet"]["state"] == "in_review"

    operator = api.ops("POST", f"/proposals/{proposal['id']}/approve", json={"note": "ok"})
    assert operator.status_code == 409 and "only an approver" in operator.json()["error"]

    approved = api.approver("POST", f"/proposals/{proposal['id']}/approve",
                            json={"note": "checked the provider's back office"})
    assert approved.status_code == 200, approved.text
    api.wait_for_state(bet, "refunded")
    resolved = [e for e in api.game("GET", path_of(bet)).json()["history"]
                if e["kind"] == "review_resolved"]
    assert [(e["actor"], e["detail"]["approved_by"]) for e in resolved] == [
        ("operator:alice", "bob")]
    again = api.approver("POST", f"/proposals/{proposal['id']}/approve", json={"note": "x"})
    assert again.status_code == 409 and "already approved" in again.json()["error"]
    logged = _access_log(stack, proposal["id"])
    assert ("alice", "proposed") in logged and ("bob", "approved", "127.0.0.1") in logged


def test_an_approver_cannot_approve_their_own_proposal(api: Api, stack: Stack) -> None:
    bet = _in_review(api, stack, BIG)
    asked = api.approver("POST", path_of(bet, "resolve"),
                         json={"resolution": "refunded", "note": "lost"})
    assert asked.status_code == 202, asked.text
    own = api.approver("POST", f"/proposals/{asked.json()['proposal']['id']}/approve",
                       json={"note": "me too"})
    assert own.status_code == 409 and "second person" in own.json()["error"]
    assert api.game("GET", path_of(bet)).json()["bet"]["state"] == "in_review"


def test_a_small_decision_is_applied_at_once_by_one_person(api: Api, stack: Stack) -> None:
    bet = _in_review(api, stack, "20.00")
    done = api.ops("POST", path_of(bet, "resolve"),
                   json={"resolution": "settled", "payout": "30.00", "note": "won"})
    assert done.status_code == 200, done.text
    assert done.json()["bet"]["state"] == "settled"


def test_a_settle_paying_more_than_the_threshold_needs_a_second_person_too(
        api: Api, stack: Stack) -> None:
    bet = _in_review(api, stack, "20.00")
    asked = api.ops("POST", path_of(bet, "resolve"),
                    json={"resolution": "settled", "payout": "5000.00", "note": "jackpot"})
    assert asked.status_code == 202, asked.text
    rejected = api.approver("POST", f"/proposals/{asked.json()['proposal']['id']}/reject",
                            json={"note": "the provider says 50"})
    assert rejected.status_code == 200 and rejected.json()["state"] == "rejected"
    assert api.game("GET", path_of(bet)).json()["bet"]["state"] == "in_review"


def test_two_approvers_at_once_move_the_money_once_and_the_other_is_told_why(
        api: Api, stack: Stack) -> None:
    bet = _in_review(api, stack, BIG)
    proposed = _carol_proposes_a_refund(stack, bet)
    approvers = [Actor(name, Role.APPROVER, "cli") for name in ("dan", "erin")]

    def approve(actor: Actor) -> str:
        try:
            approvals.approve(stack.context, proposed.proposal_id, actor, "ok")
            return "approved"
        except IllegalTransition as refused:
            return str(refused)

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(approve, approvers))
    assert outcomes[0] == "approved", outcomes
    assert "proposal" in outcomes[1] and ("already approved" in outcomes[1]
                                          or "meanwhile" in outcomes[1]), outcomes
    api.wait_for_state(bet, "refunded")
    refunds = [e for e in api.game("GET", path_of(bet)).json()["history"]
               if e["kind"] == "refund_decided"]
    assert len(refunds) == 1


def test_an_expired_proposal_cannot_be_approved(api: Api, stack: Stack) -> None:
    bet = _in_review(api, stack, BIG)
    proposed = _carol_proposes_a_refund(stack, bet, lifetime=timedelta(seconds=-1))
    answer = api.approver("POST", f"/proposals/{proposed.proposal_id}/approve",
                          json={"note": "late"})
    assert answer.status_code == 409 and "expired" in answer.json()["error"]
    assert api.game("GET", path_of(bet)).json()["bet"]["state"] == "in_review"


def test_a_proposal_whose_review_was_decided_another_way_is_void(
        api: Api, stack: Stack) -> None:
    bet = _in_review(api, stack, BIG)
    proposed = _carol_proposes_a_refund(stack, bet)
    api.ops("POST", path_of(bet, "resolve"), json={"resolution": "recheck", "note": "ask"})
    answer = api.approver("POST", f"/proposals/{proposed.proposal_id}/approve",
                          json={"note": "ok"})
    assert answer.status_code == 409 and "void" in answer.json()["error"], answer.text
    assert approvals.find(stack.context, proposed.proposal_id).state == "void"


def _access_log(stack: Stack, proposal_id: int) -> list[tuple[str, ...]]:
    """The access log's lines about a proposal: who proposed it, who approved it, from
    where."""
    with stack.context.db.unit_of_work() as session:
        rows = list(session.scalars(select(AccessEvent).order_by(AccessEvent.id)))
        found: list[tuple[str, ...]] = []
        for row in rows:
            if row.action == "proposed" and row.account == "alice":
                found.append((row.account, row.action))
            if row.detail.get("proposal") == proposal_id:
                found.append((row.account, row.action, row.address))
        return found
