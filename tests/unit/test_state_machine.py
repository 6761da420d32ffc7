"""The bet state machine: exactly the transitions docs/design.md's state table allows."""

from __future__ import annotations

from itertools import product

import pytest

from betguard.models.domain.errors import BetguardError, IllegalTransition
from betguard.models.domain.states import ALLOWED, FINAL_STATES, BetState, ensure_transition

DESIGN_TABLE = {
    BetState.PENDING: {BetState.SETTLED, BetState.REFUND_PENDING, BetState.IN_REVIEW},
    # settled: only once the wallet rejected the refund (an operator's decision)
    BetState.REFUND_PENDING: {BetState.REFUNDED, BetState.SETTLED},
    BetState.IN_REVIEW: {BetState.SETTLED, BetState.REFUND_PENDING, BetState.PENDING},
    BetState.SETTLED: set(),
    BetState.REFUNDED: set(),
}
ALLOWED_PAIRS = [(start, end) for start, ends in ALLOWED.items() for end in sorted(ends)]
ILLEGAL_PAIRS = [
    (start, end) for start, end in product(BetState, BetState) if end not in ALLOWED[start]
]


def pair_id(pair: tuple[BetState, BetState]) -> str:
    return f"{pair[0].value}->{pair[1].value}"


def test_the_states_are_the_five_named_in_the_design() -> None:
    assert [state.value for state in BetState] == [
        "pending",
        "refund_pending",
        "in_review",
        "settled",
        "refunded",
    ]


def test_states_compare_equal_to_their_stored_strings() -> None:
    assert BetState("in_review") is BetState.IN_REVIEW
    stored: str = "in_review"
    assert stored == BetState.IN_REVIEW


def test_the_allowed_transitions_are_exactly_the_design_table() -> None:
    assert {start: set(ends) for start, ends in ALLOWED.items()} == DESIGN_TABLE


def test_settled_and_refunded_are_the_final_states_and_have_no_way_out() -> None:
    assert frozenset({BetState.SETTLED, BetState.REFUNDED}) == FINAL_STATES
    assert all(not ALLOWED[state] for state in FINAL_STATES)


def test_every_open_state_can_still_reach_a_final_state() -> None:
    for start in set(BetState) - FINAL_STATES:
        reached, frontier = {start}, [start]
        while frontier:
            for end in ALLOWED[frontier.pop()] - reached:
                reached.add(end)
                frontier.append(end)
        assert reached & FINAL_STATES, f"{start} can never become final"


@pytest.mark.parametrize(("start", "end"), ALLOWED_PAIRS, ids=map(pair_id, ALLOWED_PAIRS))
def test_every_allowed_transition_is_accepted(start: BetState, end: BetState) -> None:
    ensure_transition(start, end)


@pytest.mark.parametrize(("start", "end"), ILLEGAL_PAIRS, ids=map(pair_id, ILLEGAL_PAIRS))
def test_every_other_transition_is_refused_naming_both_states(
    start: BetState, end: BetState
) -> None:
    with pytest.raises(IllegalTransition) as refused:
        ensure_transition(start, end)
    assert str(refused.value) == f"a bet cannot go from {start.value} to {end.value}"


def test_the_illegal_pairs_cover_every_pair_not_allowed() -> None:
    assert len(ALLOWED_PAIRS) + len(ILLEGAL_PAIRS) == len(BetState) ** 2
    assert len(ALLOWED_PAIRS) == 8


def test_a_refused_transition_is_a_domain_refusal_not_a_crash() -> None:
    assert issubclass(IllegalTransition, BetguardError)
