"""The simulator times its own garbage-collector pauses, so that a burst of arrivals
right after one is seen for what it is."""

from __future__ import annotations

import gc
import time

from betguard_devkit.simulator.pauses import CollectorPauses


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
