"""Bulk work after an outage, on the real stack: a bulk re-check has every pending bet
of a provider placed in a range checked now, paced at the provider's rate, and shows
its progress; a game a person paused stays paused until a person resumes it."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from betguard.models.domain.access import Actor, NotAllowed, Role
from betguard.models.domain.errors import InvalidCommand
from betguard.models.domain.events import EventKind
from betguard.models.domain.states import BetState
from betguard.models.store.tables import AuditEvent, GamePause, Notification
from betguard.services import bulk_rechecks, game_pauses
from tests.integration.harness import Stack, wait_until

OPERATOR = Actor("olga", Role.OPERATOR, "console")


def test_a_bulk_recheck_checks_every_pending_bet_of_the_range_now_at_the_providers_pace(
        stack: Stack) -> None:
    before = stack.place("sleepy", fate="returned", payout="5.00")
    bets = [stack.place("sleepy", fate="returned", payout="5.00") for _ in range(6)]
    after = stack.place("sleepy", fate="returned", payout="5.00")
    # sleepy checks a minute after placement: only the bulk re-check can settle them now
    job = bulk_rechecks.start(stack.context, "sleepy", bets[0].placed_at, bets[-1].placed_at,
                              OPERATOR, "provider back after the outage")
    assert (job.total, job.in_flight, job.requested_by) == (6, 0, "olga")

    for bet in bets:
        stack.wait_for_state(bet.id, BetState.SETTLED, timeout=30)
    assert [stack.bet(b.id).state for b in (before, after)] == [BetState.PENDING] * 2
    wait_until(lambda: bulk_rechecks.find(stack.context, job.id).done == 6, 15)
    with stack.context.db.unit_of_work() as session:
        ordered = list(session.scalars(select(AuditEvent).where(
            AuditEvent.kind == EventKind.RECHECK_ORDERED.value,
            AuditEvent.bet_id.in_([b.id for b in bets])).order_by(AuditEvent.bet_id)))
        session.expunge_all()
    assert [e.detail["bulk_job"] for e in ordered] == [job.id] * 6
    assert {e.actor for e in ordered} == {"operator:olga"}
    slots = sorted(datetime.fromisoformat(e.detail["at"]) for e in ordered)
    assert slots[-1] - slots[0] == timedelta(seconds=5 / bulk_rechecks.DEFAULT_PACE)


def test_a_bulk_recheck_of_a_range_that_runs_backwards_is_refused_naming_the_field(
        stack: Stack) -> None:
    now = stack.context.clock()
    with pytest.raises(InvalidCommand, match="^placed_to: must not be before placed_from"):
        bulk_rechecks.start(stack.context, "sleepy", now, now - timedelta(hours=1),
                            OPERATOR, "oops")


def test_a_game_a_person_paused_stays_paused_until_a_person_resumes_it(stack: Stack) -> None:
    policy = stack.context.policy("pausing")
    assert game_pauses.hold(stack.context, "pausing", "held-game", OPERATOR)
    assert not game_pauses.hold(stack.context, "pausing", "held-game", OPERATOR)  # once
    game_pauses.watch_provider(stack.context, policy)  # no bets: it would resume its own
    with stack.context.db.unit_of_work() as session:
        row = session.get(GamePause, ("pausing", "held-game"))
        assert row is not None and (row.paused, row.held_by) == (True, "olga")

    assert game_pauses.release(stack.context, "pausing", "held-game", OPERATOR)
    with stack.context.db.unit_of_work() as session:
        row = session.get(GamePause, ("pausing", "held-game"))
        assert row is not None and (row.paused, row.held_by) == (False, None)
        told = [(n.kind, n.payload["by"]) for n in session.scalars(
            select(Notification).where(Notification.bet_id.is_(None))
            .order_by(Notification.id)) if n.payload.get("game_id") == "held-game"]
    assert told == [("game_paused", "olga"), ("game_resumed", "olga")]


def test_a_viewer_may_not_pause_games(stack: Stack) -> None:
    viewer = Actor("vic", Role.VIEWER, "console")
    with pytest.raises(NotAllowed, match="only an operator or above may pause games"):
        game_pauses.hold(stack.context, "pausing", "other-game", viewer)
