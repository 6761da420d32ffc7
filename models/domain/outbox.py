"""The notification outbox's vocabulary and its retry schedule (pure)."""

from __future__ import annotations

from enum import StrEnum

MAX_RETRY_WAIT_SECONDS = 3600.0

# Key in ``Session.info`` under which the ids of notifications added in the current
# transaction wait for its commit (see ``betguard.models.store.db.Database``).
NEW_NOTIFICATIONS = "betguard.new_notifications"


class NotificationState(StrEnum):
    PENDING = "pending"  # not yet confirmed by the game server
    DELIVERED = "delivered"  # the game server answered 2xx
    DEAD = "dead"  # every attempt failed: a dead letter, visible in stats, re-sent by ops


class NotificationKind(StrEnum):
    BET_SETTLED = "bet_settled"
    BET_REFUNDED = "bet_refunded"
    REVIEW_OPENED = "review_opened"
    GAME_PAUSED = "game_paused"  # too many unreturned bets: the game server may pause the game
    GAME_RESUMED = "game_resumed"  # they came back: the game may go on


def retry_wait(attempts: int, *, base: float, draw: float) -> float:
    """Wait before the next delivery after ``attempts`` failed ones: exponential,
    capped at an hour, with up to half of it jittered away (``draw`` in [0, 1))."""
    ceiling = MAX_RETRY_WAIT_SECONDS
    if attempts - 1 < 32:
        ceiling = min(ceiling, base * 2 ** max(attempts - 1, 0))
    return ceiling * (1.0 - 0.5 * draw)
