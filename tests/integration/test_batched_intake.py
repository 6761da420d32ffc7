"""Batched intake: many bets in one transaction, each item answered exactly as a single
``place_bet`` would answer it, and their checks woken after the commit."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text

from betguard.models.domain.events import EventKind
from betguard.models.domain.states import BetState
from betguard.models.store.bulk import STAGED_FROM
from betguard.services.intake import place_bet, place_bets
from tests.integration.harness import Stack, bet_payload

pytestmark = pytest.mark.integration


def refs(count: int) -> list[str]:
    run = secrets.token_hex(4)
    return [f"many-{run}-{n}" for n in range(count)]


def test_a_batch_registers_every_new_bet_once_with_its_history(stack: Stack) -> None:
    wanted = refs(5)
    results = place_bets(stack.context, [bet_payload("sleepy", ref) for ref in wanted])

    assert [r.status for r in results] == ["created"] * 5
    assert [r.bet.bet_ref for r in results if r.bet] == wanted
    for result in results:
        assert result.bet is not None and result.bet.state is BetState.PENDING
        assert stack.kinds(result.bet.id) == ["bet_placed"]


def test_each_item_is_answered_as_place_bet_would_answer_it(stack: Stack) -> None:
    existing, conflicting, fresh = refs(3)
    place_bet(stack.context, bet_payload("sleepy", existing))
    place_bet(stack.context, bet_payload("sleepy", conflicting))
    items: list[Any] = [
        bet_payload("sleepy", existing),
        bet_payload("sleepy", conflicting, stake="99.00"),
        {**bet_payload("sleepy", "bad-ref"), "stake": 12.5},
        bet_payload("nobody", "x-1"),
        bet_payload("sleepy", fresh),
    ]

    results = place_bets(stack.context, items)

    assert [r.status for r in results] == ["exists", "conflict", "invalid", "invalid", "created"]
    assert getattr(results[1].error, "fields", None) == ["stake"]
    assert getattr(results[2].error, "fields", None) == ["stake"]
    assert "unknown provider" in str(results[3].error)
    assert results[0].bet is not None and results[0].bet.bet_ref == existing


def test_a_reference_repeated_within_one_batch_is_placed_once(stack: Stack) -> None:
    (ref,) = refs(1)
    results = place_bets(stack.context, [bet_payload("sleepy", ref), bet_payload("sleepy", ref),
                                         bet_payload("sleepy", ref, stake="11.00")])

    assert [r.status for r in results] == ["created", "exists", "conflict"]
    first, again = results[0].bet, results[1].bet
    assert first is not None and again is not None and first.id == again.id
    assert stack.kinds(first.id) == ["bet_placed"]


def test_bets_placed_in_a_batch_are_checked_and_decided(stack: Stack) -> None:
    wanted = refs(4)
    for ref in wanted:
        stack.sim("POST", "/_sim/bets", {"bet_ref": ref, "stake": "10.00", "currency": "EUR",
                                         "fate": "delayed", "delay": 0.3})
    results = place_bets(stack.context, [bet_payload("refunder", ref) for ref in wanted])

    for result in results:
        assert result.bet is not None
        assert stack.wait_for_state(result.bet.id, BetState.SETTLED).payout is not None


def test_a_large_batch_goes_through_staging_and_answers_each_item_the_same_way(
        stack: Stack) -> None:
    existing, conflicting, *fresh = refs(STAGED_FROM + 10)
    place_bet(stack.context, bet_payload("sleepy", existing))
    place_bet(stack.context, bet_payload("sleepy", conflicting))
    items = [bet_payload("sleepy", existing), bet_payload("sleepy", conflicting, stake="99.00"),
             *(bet_payload("sleepy", ref) for ref in fresh), bet_payload("sleepy", fresh[0])]

    results = place_bets(stack.context, items)

    assert [r.status for r in results] == (["exists", "conflict"] + ["created"] * len(fresh)
                                           + ["exists"])
    assert [r.bet.bet_ref for r in results[2:-1] if r.bet] == fresh
    for result in results[2:-1]:
        assert result.bet is not None and stack.kinds(result.bet.id) == ["bet_placed"]


def stored(stack: Stack, bet_id: int) -> dict[str, Any]:
    """The bet's row as the database holds it and its ``bet_placed`` event's detail, but
    what names the bet or says when it was written (its id, references, write times and
    first check)."""
    with stack.context.db.engine.connect() as connection:
        row = dict(connection.execute(text("SELECT * FROM bets WHERE id = :id"),
                                      {"id": bet_id}).mappings().one())
    for key in ("id", "bet_ref", "round_ref", "round_id", "created_at", "updated_at",
                "next_check_at"):
        row.pop(key)
    details = stack.details(bet_id, EventKind.BET_PLACED)
    return {**row, "placed": [{k: v for k, v in d.items() if k != "first_check_at"}
                              for d in details]}


def test_a_few_bets_placed_together_are_stored_as_a_bet_placed_alone(
        stack: Stack) -> None:
    alone, *together = refs(4)
    # Placed a moment ago: the bets' first checks are a minute away, after the test.
    at = (datetime.now(UTC) - timedelta(seconds=5)).isoformat()
    shapes = [{"stake": "0.01", "player_id": "p.1:x@y/z-", "placed_at": at},
              {"stake": "99.99", "game_id": "g-2"}]
    single = place_bet(stack.context, {**bet_payload("sleepy", alone), **shapes[0]}).bet
    batch = place_bets(stack.context, [{**bet_payload("sleepy", ref), **shape}
                                       for ref, shape in zip(together, [*shapes, shapes[0]],
                                                             strict=True)])

    assert [r.status for r in batch] == ["created"] * 3
    first, second, third = (r.bet for r in batch)
    assert first is not None and second is not None and third is not None
    placed_alone, placed_first, other = (stored(stack, bet.id) for bet in (single, first, second))
    assert placed_first == placed_alone == stored(stack, third.id)
    assert placed_first["placed_at"] == datetime.fromisoformat(at)
    assert (other["stake"], other["game_id"], other["player_id"]) == (
        Decimal("99.99"), "g-2", "player-1")
    assert other["placed"] == [{**placed_first["placed"][0], "stake": "99.99",
                                "deadline": other["deadline"].isoformat()}]
    assert first.id < second.id < third.id  # written in the batch's order
