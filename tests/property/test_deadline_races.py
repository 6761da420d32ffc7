"""Property: at a bet's deadline, whatever happens while betguard asks the provider about
it or asks it to cancel (a result reported, the same check delivered again, another
worker taking over, an operator ordering a re-check), the bet stays legal, explained and
paid at most once, and ends decided or in review."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.property.conftest import World
from tests.property.doubles import Call
from tests.property.machine import CHECK_MEDDLES, BetLifecycle

pytestmark = pytest.mark.integration

PAST_EVERY_DEADLINE = 650.0


@settings(max_examples=30, deadline=None, derandomize=True, database=None)
@given(fate=st.sampled_from(["never", "returned", "unknown", "foreign", "ghost"]),
       meddle=CHECK_MEDDLES.filter(lambda meddle: meddle is not None),
       during=st.sampled_from(["cancel", "status"]))
def test_a_check_at_the_deadline_stays_exact_whatever_happens_while_it_asks_the_provider(
    world: World, fate: str, meddle: str, during: Call,
) -> None:
    machine = BetLifecycle(world)
    machine.place_some_bets([("refunder", fate, "10.00", "15.00")], overdue=False)
    machine.every_invariant_holds()
    machine.advance_the_clock(PAST_EVERY_DEADLINE)
    machine.deliver_a_check(0, again=False, meddle=meddle, during=during)
    machine.every_invariant_holds()
    machine.teardown()
