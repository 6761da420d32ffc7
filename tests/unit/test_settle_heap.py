"""A started process keeps its start-up objects out of later collections, and leaves no
garbage of start-up frozen with them."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from betguard.bootstrap import settle_heap


class Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the collector frees it


@pytest.fixture
def thawed() -> Iterator[None]:
    yield
    gc.unfreeze()


def test_start_up_objects_are_frozen_and_its_garbage_collected_first(thawed: None) -> None:
    kept = [Node()]
    garbage = weakref.ref(Node())

    settle_heap()

    assert garbage() is None, "garbage from start-up was collected, not frozen for good"
    collected = {id(obj) for generation in range(3) for obj in gc.get_objects(generation)}
    assert id(kept) not in collected and id(kept[0]) not in collected, \
        "no later collection walks what start-up made"
    assert gc.get_freeze_count() > 0
