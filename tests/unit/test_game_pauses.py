"""The pause and resume decisions of the game circuit breaker: thresholds and hysteresis."""

from __future__ import annotations

import pytest

from betguard.config.policies import PausePolicy
from betguard.services.game_pauses import WHOLE_PROVIDER, Target, Verdict, decide, targets


def verdict(paused: bool, unreturned: int, threshold: int | None = 4,
            ratio: float = 0.5) -> Verdict:
    return decide(paused=paused, unreturned=unreturned, threshold=threshold, resume_ratio=ratio)


@pytest.mark.parametrize("unreturned", [4, 5, 100])
def test_a_running_game_pauses_once_its_unreturned_bets_reach_the_threshold(
    unreturned: int,
) -> None:
    assert verdict(False, unreturned) is Verdict.PAUSE


@pytest.mark.parametrize("unreturned", [0, 1, 3])
def test_a_running_game_below_the_threshold_keeps_running(unreturned: int) -> None:
    assert verdict(False, unreturned) is Verdict.KEEP


@pytest.mark.parametrize("unreturned", [3, 4, 50])
def test_a_paused_game_stays_paused_above_threshold_times_the_resume_ratio(
    unreturned: int,
) -> None:
    assert verdict(True, unreturned) is Verdict.KEEP


@pytest.mark.parametrize("unreturned", [0, 1, 2])
def test_a_paused_game_resumes_at_threshold_times_the_resume_ratio_or_below(
    unreturned: int,
) -> None:
    assert verdict(True, unreturned) is Verdict.RESUME


def test_a_resume_ratio_of_zero_resumes_only_when_every_bet_came_back() -> None:
    assert verdict(True, 1, ratio=0.0) is Verdict.KEEP
    assert verdict(True, 0, ratio=0.0) is Verdict.RESUME


def test_a_count_hovering_at_the_threshold_does_not_flap() -> None:
    paused = False
    flips = 0
    for unreturned in [4, 3, 4, 3, 4, 3, 2, 3, 4]:
        step = verdict(paused, unreturned)
        if step is not Verdict.KEEP:
            flips += 1
            paused = step is Verdict.PAUSE
    assert flips == 3  # paused at 4, resumed at 2, paused again at 4


def test_a_game_paused_under_a_threshold_the_policy_dropped_is_resumed() -> None:
    assert verdict(True, 10, threshold=None) is Verdict.RESUME
    assert verdict(False, 10, threshold=None) is Verdict.KEEP


def test_targets_are_every_game_with_unreturned_bets_or_a_pause_and_the_whole_provider() -> None:
    found = targets(PausePolicy(game=3, provider=5), {"slots": 3, "poker": 1},
                    paused={"roulette"})
    assert found == [Target("poker", 1, 3), Target("roulette", 0, 3), Target("slots", 3, 3),
                     Target(WHOLE_PROVIDER, 4, 5)]


def test_without_a_provider_threshold_the_whole_provider_is_not_looked_at() -> None:
    found = targets(PausePolicy(game=3), {"slots": 3}, paused=())
    assert found == [Target("slots", 3, 3)]


def test_without_a_game_threshold_only_games_still_paused_are_looked_at() -> None:
    found = targets(PausePolicy(provider=5), {"slots": 9}, paused={"poker"})
    assert found == [Target("poker", 0, None), Target(WHOLE_PROVIDER, 9, 5)]
