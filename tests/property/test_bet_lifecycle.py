"""Property: whatever the broker, the clock, the game server and the ops team do, every
bet stays legal, explained and paid at most once, and none is lost."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from tests.property.conftest import World
from tests.property.machine import BetLifecycle

pytestmark = pytest.mark.integration

# Reproducible in CI: the same examples on every run, and no example database on disk.
LIFECYCLE_SETTINGS = settings(
    max_examples=50, stateful_step_count=30, deadline=None, derandomize=True, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def test_every_bet_stays_legal_explained_and_paid_at_most_once_whatever_the_broker_does(
    world: World,
) -> None:
    class BetLifecycleHere(BetLifecycle):
        def __init__(self) -> None:
            super().__init__(world)

    run_state_machine_as_test(BetLifecycleHere, settings=LIFECYCLE_SETTINGS)
