"""The sweep's lease as a set-based verb: which bets a sweep may hold, until when, and
the event each bet taken records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from betguard.models.domain import transitions
from betguard.models.domain.errors import IllegalTransition
from betguard.models.domain.events import EventKind
from betguard.models.domain.states import BetState
from betguard.models.domain.transitions import NewEvent

NOW = datetime(2026, 1, 1, tzinfo=UTC)
CUTOFF = NOW - timedelta(seconds=30)
UNTIL = NOW + timedelta(minutes=5)


def test_a_sweep_of_pending_bets_holds_their_checks_until_the_lease_ends() -> None:
    lease = transitions.lease_due(BetState.PENDING, due_by=CUTOFF, until=UNTIL)
    assert (lease.state, lease.due_by) == (BetState.PENDING, CUTOFF)
    assert lease.values == {"next_check_at": UNTIL}
    assert lease.event(4) == NewEvent(EventKind.CHECK_DISPATCHED_BY_SWEEP, "sweep",
                                      {"attempt": 4})


def test_a_sweep_of_refunds_records_each_refund_it_sends_again() -> None:
    lease = transitions.lease_due(BetState.REFUND_PENDING, due_by=CUTOFF, until=UNTIL)
    assert lease.values == {"next_check_at": UNTIL}
    assert lease.event(2) == NewEvent(EventKind.REFUND_DISPATCHED_BY_SWEEP, "sweep",
                                      {"attempt": 2})


def test_a_lease_changes_neither_the_state_nor_the_attempt_of_the_bets_it_holds() -> None:
    for state in (BetState.PENDING, BetState.REFUND_PENDING):
        lease = transitions.lease_due(state, due_by=CUTOFF, until=UNTIL)
        assert set(lease.values) == {"next_check_at"}


@pytest.mark.parametrize("state", [BetState.IN_REVIEW, BetState.SETTLED, BetState.REFUNDED])
def test_no_sweep_holds_bets_that_wait_for_no_check(state: BetState) -> None:
    with pytest.raises(IllegalTransition, match="no sweep takes"):
        transitions.lease_due(state, due_by=CUTOFF, until=UNTIL)
