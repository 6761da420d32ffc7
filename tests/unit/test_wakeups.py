"""Shared wake-ups for batched checks: chunks of checks due at about the same time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.wakeups import SHARED_WAKEUP_WINDOW, DueCheck, chunks_by_time

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
