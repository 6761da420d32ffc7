"""Who may do what (``betguard.models.domain.access``): the ranked roles, the refusal that
names the person, their role and the role needed, what a decision puts at stake, and the
four-eyes rule that asks a second person above a provider's threshold."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from betguard.models.domain.access import (
    MONEY_RESOLUTIONS,
    Actor,
    NotAllowed,
    Role,
    amount_at_stake,
    approval_refusal,
    needs_second_person,
)
from betguard.models.domain.events import Resolution

RANKED = [Role.VIEWER, Role.OPERATOR, Role.APPROVER, Role.ADMIN]
NO_MONEY = [Resolution.RECHECK, Resolution.ACKNOWLEDGED, Resolution.RETRY_REFUND]

amounts = st.decimals(min_value=0, max_value=10**9, places=4,
                      allow_nan=False, allow_infinity=False)


def person(role: Role, name: str = "alice") -> Actor:
    return Actor(name=name, role=role, via="console")


# Roles and their ranks


def test_the_roles_rank_viewer_operator_approver_admin() -> None:
    assert [role.rank for role in RANKED] == [0, 1, 2, 3]
    assert list(Role) == RANKED


@pytest.mark.parametrize("role", RANKED)
def test_every_role_may_do_what_it_needs_itself(role: Role) -> None:
    assert role.may(role)


@pytest.mark.parametrize(("role", "needed"), [
    (Role.ADMIN, Role.VIEWER), (Role.ADMIN, Role.OPERATOR), (Role.ADMIN, Role.APPROVER),
    (Role.APPROVER, Role.OPERATOR), (Role.APPROVER, Role.VIEWER), (Role.OPERATOR, Role.VIEWER),
])
def test_a_higher_role_may_do_everything_a_lower_one_may(role: Role, needed: Role) -> None:
    assert role.may(needed)


@pytest.mark.parametrize(("role", "needed"), [
    (Role.VIEWER, Role.OPERATOR), (Role.VIEWER, Role.APPROVER), (Role.VIEWER, Role.ADMIN),
    (Role.OPERATOR, Role.APPROVER), (Role.OPERATOR, Role.ADMIN), (Role.APPROVER, Role.ADMIN),
])
def test_a_lower_role_may_not_do_what_a_higher_one_needs(role: Role, needed: Role) -> None:
    assert not role.may(needed)


@given(st.sampled_from(RANKED), st.sampled_from(RANKED))
def test_a_role_may_exactly_what_ranks_at_or_below_it(role: Role, needed: Role) -> None:
    assert role.may(needed) is (RANKED.index(role) >= RANKED.index(needed))


# Actor.require


@pytest.mark.parametrize(("role", "needed"), [
    (Role.OPERATOR, Role.OPERATOR), (Role.APPROVER, Role.OPERATOR), (Role.ADMIN, Role.ADMIN),
    (Role.VIEWER, Role.VIEWER),
])
def test_a_person_whose_role_suffices_passes_the_requirement(role: Role, needed: Role) -> None:
    person(role).require(needed, "decide reviews")


def test_a_viewer_asked_to_decide_is_refused_naming_them_their_role_and_the_role_needed(
) -> None:
    with pytest.raises(NotAllowed) as refused:
        person(Role.VIEWER, "vera").require(Role.OPERATOR, "decide reviews")
    assert str(refused.value) == "vera is a viewer: only an operator or above may decide reviews"


@pytest.mark.parametrize(("role", "needed", "message"), [
    (Role.VIEWER, Role.APPROVER,
     "olga is a viewer: only an approver or above may approve proposals"),
    (Role.OPERATOR, Role.APPROVER,
     "olga is an operator: only an approver or above may approve proposals"),
    (Role.OPERATOR, Role.ADMIN,
     "olga is an operator: only an admin or above may approve proposals"),
    (Role.APPROVER, Role.ADMIN,
     "olga is an approver: only an admin or above may approve proposals"),
])
def test_the_refusal_says_a_or_an_as_english_wants(role: Role, needed: Role,
                                                  message: str) -> None:
    with pytest.raises(NotAllowed, match=f"^{message}$"):
        person(role, "olga").require(needed, "approve proposals")


# What a decision puts at stake


@pytest.mark.parametrize(("stake", "payout", "at_stake"), [
    ("10.00", "25.00", "25.00"),
    ("10.00", "2.50", "10.00"),
    ("10.00", "0", "10.00"),
    ("10.00", "10.00", "10.00"),
])
def test_a_settlement_puts_the_larger_of_stake_and_payout_at_stake(
        stake: str, payout: str, at_stake: str) -> None:
    assert amount_at_stake(Resolution.SETTLED, Decimal(stake), Decimal(payout)) == \
        Decimal(at_stake)


def test_a_settlement_without_a_payout_yet_puts_the_stake_at_stake() -> None:
    assert amount_at_stake(Resolution.SETTLED, Decimal("10.00"), None) == Decimal("10.00")


@pytest.mark.parametrize("resolution", [Resolution.REFUNDED, Resolution.REFUNDED_OUTSIDE])
@pytest.mark.parametrize("payout", [None, Decimal("500.00")])
def test_a_refund_puts_the_stake_at_stake_whatever_the_payout(
        resolution: Resolution, payout: Decimal | None) -> None:
    assert amount_at_stake(resolution, Decimal("10.00"), payout) == Decimal("10.00")


@pytest.mark.parametrize("resolution", NO_MONEY)
def test_a_decision_that_moves_no_money_puts_nothing_at_stake(resolution: Resolution) -> None:
    assert amount_at_stake(resolution, Decimal("10.00"), Decimal("500.00")) is None


def test_the_money_resolutions_are_settle_refund_and_refunded_outside() -> None:
    assert set(MONEY_RESOLUTIONS) == {Resolution.SETTLED, Resolution.REFUNDED,
                                      Resolution.REFUNDED_OUTSIDE}
    assert set(MONEY_RESOLUTIONS) | set(NO_MONEY) == set(Resolution)


@given(amounts, amounts)
def test_a_settlement_puts_at_stake_one_of_its_amounts_and_at_least_both(
        stake: Decimal, payout: Decimal) -> None:
    at_stake = amount_at_stake(Resolution.SETTLED, stake, payout)
    assert at_stake is not None
    assert at_stake in (stake, payout)
    assert at_stake >= stake and at_stake >= payout


# Four eyes


@pytest.mark.parametrize("resolution", list(Resolution))
def test_without_a_threshold_no_decision_needs_a_second_person(resolution: Resolution) -> None:
    assert not needs_second_person(resolution, Decimal("1000000"), Decimal("9999999"), None)


def test_a_refund_strictly_above_the_threshold_needs_a_second_person() -> None:
    assert needs_second_person(Resolution.REFUNDED, Decimal("100.01"), None, Decimal("100"))


def test_a_refund_equal_to_the_threshold_is_not_above_it() -> None:
    assert not needs_second_person(Resolution.REFUNDED, Decimal("100.00"), None, Decimal("100"))


def test_a_refund_below_the_threshold_needs_one_person() -> None:
    assert not needs_second_person(Resolution.REFUNDED, Decimal("99.99"), None, Decimal("100"))


def test_a_small_stake_settled_with_a_big_payout_needs_a_second_person() -> None:
    assert needs_second_person(Resolution.SETTLED, Decimal("5"), Decimal("500"), Decimal("100"))


def test_a_big_stake_settled_with_a_payout_of_zero_needs_a_second_person() -> None:
    assert needs_second_person(Resolution.SETTLED, Decimal("500"), Decimal("0"), Decimal("100"))


def test_a_threshold_of_zero_asks_a_second_person_for_any_money_but_none() -> None:
    assert needs_second_person(Resolution.REFUNDED_OUTSIDE, Decimal("0.01"), None, Decimal("0"))
    assert not needs_second_person(Resolution.REFUNDED, Decimal("0"), None, Decimal("0"))


@pytest.mark.parametrize("resolution", NO_MONEY)
def test_a_decision_that_moves_no_money_never_needs_a_second_person(
        resolution: Resolution) -> None:
    assert not needs_second_person(resolution, Decimal("1000"), Decimal("1000"), Decimal("0"))


@given(st.sampled_from(sorted(MONEY_RESOLUTIONS)), amounts, st.none() | amounts,
       st.none() | amounts)
def test_a_money_decision_needs_a_second_person_exactly_when_its_amount_exceeds_the_threshold(
        resolution: Resolution, stake: Decimal, payout: Decimal | None,
        threshold: Decimal | None) -> None:
    at_stake = amount_at_stake(resolution, stake, payout)
    assert at_stake is not None
    expected = threshold is not None and at_stake > threshold
    assert needs_second_person(resolution, stake, payout, threshold) is expected


@given(st.sampled_from(NO_MONEY), amounts, st.none() | amounts, st.none() | amounts)
def test_no_amounts_make_a_decision_without_money_need_a_second_person(
        resolution: Resolution, stake: Decimal, payout: Decimal | None,
        threshold: Decimal | None) -> None:
    assert not needs_second_person(resolution, stake, payout, threshold)


# Approving another person's proposal


@pytest.mark.parametrize(("role", "article"), [(Role.VIEWER, "a"), (Role.OPERATOR, "an")])
def test_a_person_below_approver_may_not_approve(role: Role, article: str) -> None:
    assert approval_refusal(proposer="alice", approver=person(role, "bob")) == \
        f"bob is {article} {role.value}: only an approver or an admin may approve"


@pytest.mark.parametrize("role", [Role.APPROVER, Role.ADMIN])
def test_the_proposer_may_not_approve_their_own_proposal_even_as_approver_or_admin(
        role: Role) -> None:
    assert approval_refusal(proposer="alice", approver=person(role, "alice")) == \
        "alice proposed it: a second person must approve"


def test_an_operator_who_proposed_is_refused_for_their_role_first() -> None:
    refusal = approval_refusal(proposer="olga", approver=person(Role.OPERATOR, "olga"))
    assert refusal == "olga is an operator: only an approver or an admin may approve"


@pytest.mark.parametrize("role", [Role.APPROVER, Role.ADMIN])
def test_another_approver_or_admin_may_approve(role: Role) -> None:
    assert approval_refusal(proposer="alice", approver=person(role, "bob")) is None


def test_where_the_approval_comes_from_does_not_matter() -> None:
    for via in ("console", "api", "cli"):
        approver = Actor(name="bob", role=Role.APPROVER, via=via)
        assert approval_refusal(proposer="alice", approver=approver) is None
