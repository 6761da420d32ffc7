"""Shared wake-ups: checks of one provider due at about the same time, in chunks (a
batched request's bets, or a group of single calls)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import cast

from betguard.config.policies import ProviderPolicy
from betguard.models.store.db import Database
from betguard.providers.base import Wallet
from betguard.services.context import Context, Scheduler
from betguard.services.wakeups import SHARED_WAKEUP_WINDOW, DueCheck, chunks_by_time, wake_checks

START = datetime(2030, 1, 1, tzinfo=UTC)


def due(n: int, seconds: float) -> DueCheck:
    return DueCheck(n, 1, "acme", f"acme/b-{n}", START + timedelta(seconds=seconds))


def test_checks_due_together_share_a_wakeup_up_to_the_batch_size() -> None:
    chunks = chunks_by_time([due(n, n * 0.01) for n in range(7)], size=3)

    assert [[c.bet_id for c in chunk] for chunk in chunks] == [[0, 1, 2], [3, 4, 5], [6]]


def test_checks_further_apart_than_the_window_get_their_own_wakeups_in_time_order() -> None:
    window = SHARED_WAKEUP_WINDOW.total_seconds()
    chunks = chunks_by_time([due(2, 3 * window), due(0, 0), due(1, window * 0.5)], size=10)

    assert [[c.bet_id for c in chunk] for chunk in chunks] == [[0, 1], [2]]


def test_no_check_is_left_out_or_repeated() -> None:
    checks = [due(n, (n * 7919) % 50 / 10) for n in range(200)]

    chunks = chunks_by_time(checks, size=16)

    assert sorted(c.bet_id for chunk in chunks for c in chunk) == list(range(200))
    assert all(len(chunk) <= 16 for chunk in chunks)
    assert all(chunk[-1].at - chunk[0].at <= SHARED_WAKEUP_WINDOW for chunk in chunks)


class Published:
    """A scheduler that only remembers what it was asked to wake."""

    def __init__(self) -> None:
        self.single: list[int] = []
        self.batches: list[list[int]] = []

    def check(self, bet_id: int, attempt: int, at: datetime, *, label: str) -> None:
        self.single.append(bet_id)

    def check_batch(self, provider: str, checks: list[tuple[int, int]], at: datetime) -> None:
        self.batches.append([bet_id for bet_id, _ in checks])


def test_a_check_of_a_provider_removed_from_the_policies_is_still_woken_with_the_others() -> None:
    batcher = ProviderPolicy(name="acme", base_url="http://acme.test", supports_batch=True,
                             batch_size=10)
    published = Published()
    ctx = Context(db=cast(Database, None), policies={"acme": batcher}, providers={},
                  wallet=cast(Wallet, None), scheduler=cast(Scheduler, published))
    retired = DueCheck(9, 1, "retired", "retired/b-9", START)

    wake_checks(ctx, [due(1, 0), retired, due(2, 0.1)])

    # Its own wake-up: its check then crashes, and ends in review after a few tries.
    assert published.single == [9]
    assert published.batches == [[1, 2]]


def per_bet(name: str = "acme", *, group: int = 25) -> ProviderPolicy:
    return ProviderPolicy(name=name, base_url="http://acme.test", check_group_size=group)


def published_by(policy: ProviderPolicy, due_checks: list[DueCheck]) -> Published:
    published = Published()
    ctx = Context(db=cast(Database, None), policies={policy.name: policy}, providers={},
                  wallet=cast(Wallet, None), scheduler=cast(Scheduler, published))
    wake_checks(ctx, due_checks)
    return published


def test_checks_of_a_provider_without_batches_due_together_share_a_wakeup_per_group() -> None:
    published = published_by(per_bet(group=4), [due(n, n * 0.01) for n in range(10)])

    assert published.batches == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert published.single == []


def test_a_check_due_alone_is_woken_as_a_single_check() -> None:
    published = published_by(per_bet(), [due(1, 0), due(2, 5), due(3, 5.5)])

    assert published.single == [1]
    assert published.batches == [[2, 3]]


def test_a_group_size_of_one_wakes_every_check_on_its_own() -> None:
    published = published_by(per_bet(group=1), [due(n, 0) for n in range(3)])

    assert published.single == [0, 1, 2]
    assert published.batches == []


def test_a_wakeup_carries_a_batch_or_a_group_as_the_policy_says() -> None:
    batcher = ProviderPolicy(name="b", base_url="http://b.test", supports_batch=True,
                             batch_size=80, check_group_size=7)

    assert batcher.checks_per_wakeup == 80
    assert per_bet(group=7).checks_per_wakeup == 7
