"""The group commit's own rules, with the writing of a group replaced (its database side
is tested in tests/integration/test_single_bets_in_groups.py): who writes which group,
and what each bet hears when a group fails."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from betguard.models.domain.errors import ConflictingBet
from betguard.services import intake_groups
from betguard.services.intake_groups import IntakeGroups


class Refused(Exception):
    """What the database says of a bet it will not store."""


class Writes:
    """Stands in for ``intake.register``: records each group; may hold the first one."""

    def __init__(self, *, refuse: str = "", lost: bool = False) -> None:
        self.groups: list[list[str]] = []
        self.hold, self.entered = threading.Event(), threading.Event()
        self.hold.set()
        self.refuse, self.lost = refuse, lost

    def __call__(self, _ctx: Any, bets: Sequence[Any]) -> list[Any]:
        self.entered.set()
        self.hold.wait(10)
        refs = [bet.key[1] for bet in bets]
        self.groups.append(refs)
        if self.lost:
            raise OperationalError("INSERT", {}, Exception("server closed the connection"),
                                   connection_invalidated=True)
        if self.refuse in refs:
            raise Refused(self.refuse)
        return [ConflictingBet("p", ref, ["stake"]) if ref.startswith("x") else ("placed", ref)
                for ref in refs]


class Bet:
    def __init__(self, ref: str) -> None:
        self.key = ("p", ref)


class NoDatabase:
    def for_one_writer(self, _name: str) -> NoDatabase:
        return self


@dataclass
class Ctx:
    clock: Any = time.time
    db: Any = field(default_factory=NoDatabase)


@pytest.fixture
def groups(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    def make(writes: Writes) -> IntakeGroups:
        monkeypatch.setattr(intake_groups, "register", writes)
        monkeypatch.setattr(intake_groups, "new_bet", lambda _ctx, ref, _now: Bet(ref))
        made.append(IntakeGroups(Ctx(), max_group=50))  # type: ignore[arg-type]
        return made[-1]
    made: list[IntakeGroups] = []
    yield make
    for each in made:
        each.close()


def place_at_once(groups: IntakeGroups, refs: list[str], writes: Writes) -> dict[str, Any]:
    """The first bet alone while ``writes`` holds its group, then the rest beside each other."""
    heard: dict[str, Any] = {}

    def place(ref: str) -> None:
        try:
            heard[ref] = groups.place(ref)  # type: ignore[arg-type]
        except Exception as exc:  # noqa: BLE001 - what the request hears
            heard[ref] = exc

    writes.hold.clear()
    threads = [threading.Thread(target=place, args=(ref,)) for ref in refs]
    threads[0].start()
    assert writes.entered.wait(5)
    for thread in threads[1:]:
        thread.start()
    time.sleep(0.2)  # they gather behind the first
    writes.hold.set()
    for thread in threads:
        thread.join(10)
    return heard


def test_bets_arriving_while_a_group_is_written_form_the_next_group(groups: Any) -> None:
    writes = Writes()
    heard = place_at_once(groups(writes), ["a", "b", "c", "d"], writes)

    assert writes.groups[0] == ["a"]
    assert sorted(writes.groups[1]) == ["b", "c", "d"]
    assert heard == {ref: ("placed", ref) for ref in "abcd"}


def test_a_conflict_is_raised_to_its_own_request_only(groups: Any) -> None:
    writes = Writes()
    heard = place_at_once(groups(writes), ["a", "x1", "c"], writes)

    assert isinstance(heard["x1"], ConflictingBet)
    assert heard["c"] == ("placed", "c")


def test_a_bet_the_database_refuses_costs_its_neighbours_nothing(groups: Any) -> None:
    writes = Writes(refuse="c")
    heard = place_at_once(groups(writes), ["a", "b", "c", "d"], writes)

    assert isinstance(heard["c"], Refused)
    assert heard["b"] == ("placed", "b") and heard["d"] == ("placed", "d")
    assert ["b"] in writes.groups and ["d"] in writes.groups  # written again one by one


def test_a_lost_database_is_heard_by_every_bet_of_the_group(groups: Any) -> None:
    writes = Writes(lost=True)
    heard = place_at_once(groups(writes), ["a", "b", "c"], writes)

    assert all(isinstance(error, OperationalError) for error in heard.values())
    assert sorted(len(group) for group in writes.groups) == [1, 2]  # never bet by bet


def test_a_quiet_intake_writes_each_bet_at_once_alone(groups: Any) -> None:
    writes = Writes()
    placing = groups(writes)

    assert [placing.place(ref) for ref in "ab"] == [("placed", "a"), ("placed", "b")]
    assert writes.groups == [["a"], ["b"]]
