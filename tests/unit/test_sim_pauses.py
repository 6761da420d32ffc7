"""The simulator times its own garbage-collector pauses, so that a burst of arrivals
right after one is seen for what it is."""

from __future__ import annotations

import gc
import time

from betguard_devkit.simulator.inputs import parse_registration
from betguard_devkit.simulator.pauses import CollectorPauses
from betguard_devkit.simulator.state import FREEZE_FROM, SimState


def test_a_collection_is_recorded_with_when_it_began_and_how_long_it_took() -> None:
    pauses = CollectorPauses(shown_from=0.0).install()
    try:
        before = time.time()
        gc.collect()
    finally:
        pauses.uninstall()

    [*_, last] = pauses.since(before - 0.001)
    assert last["generation"] == 2 and last["seconds"] >= 0 and last["t"] >= before - 0.001


def test_collections_shorter_than_the_threshold_are_not_kept() -> None:
    pauses = CollectorPauses(shown_from=60.0).install()
    try:
        gc.collect()
    finally:
        pauses.uninstall()

    assert pauses.since(0) == []


def test_bets_registered_in_bulk_are_frozen_out_of_the_collectors_walk() -> None:
    state = SimState(seed=1)
    specs, _ = parse_registration({"bets": [
        {"bet_ref": f"frozen-{n}", "stake": "1.00", "currency": "EUR"}
        for n in range(FREEZE_FROM)]})
    before = gc.get_freeze_count()
    try:
        state.register(specs)
        assert gc.get_freeze_count() > before
    finally:
        gc.unfreeze()
