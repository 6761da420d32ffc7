"""The circuit breaker for games: tell the game server to pause a game whose bets do not
come back, and that it may go on once they have.

A bet is *unreturned* when it is still open (not settled or refunded) more than
``policy.pause.unreturned_after`` seconds after it was placed. When a game's count of
unreturned bets reaches ``policy.pause.game`` (or the whole provider's count reaches
``policy.pause.provider``: game_id "*"), the game is marked paused in ``game_pauses``
and a ``game_paused`` notification is written to the outbox in the same transaction.
It is resumed (``game_resumed``) once the count falls to ``threshold * resume_ratio``
or below: hysteresis, so a count hovering at the threshold does not flap.

The database is the truth: a transition happens only through a conditional statement
(insert-if-absent or update-where-not-yet), so two watchers at once -- beat running late
beside a fresh run, a duplicate delivery -- send one notification, never two. On
PostgreSQL the watchers of one provider also take turns (a transaction-level advisory
lock), so each decides from counts no other watcher is changing. Safe to run twice,
late or never: each run looks at the bets as they are now.

A person may also pause a game, or every game of a provider, by hand (``hold``, from the
console after an outage): the watcher never resumes such a pause; a person does
(``release``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from betguard.config.policies import PausePolicy, ProviderPolicy
from betguard.models.domain.access import Actor, Role
from betguard.models.domain.outbox import NotificationKind
from betguard.models.store import bet_queries, pauses, repository
from betguard.models.store.db import Session
from betguard.models.store.tables import GamePause
from betguard.services.context import Context
from betguard.services.operator_text import require_text

WHOLE_PROVIDER = "*"  # the game_id of a pause of every game of a provider


class Verdict(StrEnum):
    PAUSE = "pause"
    RESUME = "resume"
    KEEP = "keep"  # nothing to tell the game server


def decide(*, paused: bool, unreturned: int, threshold: int | None,
           resume_ratio: float) -> Verdict:
    """Pure: pause at the threshold, resume at ``threshold * resume_ratio`` or below.

    A game paused under a threshold the policy no longer sets (None) is resumed: nothing
    would ever resume it otherwise.
    """
    if threshold is None:
        return Verdict.RESUME if paused else Verdict.KEEP
    if not paused and unreturned >= threshold:
        return Verdict.PAUSE
    if paused and unreturned <= threshold * resume_ratio:
        return Verdict.RESUME
    return Verdict.KEEP


@dataclass(frozen=True)
class Target:
    """One game (or the whole provider) to decide about, with what decides it."""

    game_id: str
    unreturned: int
    threshold: int | None


def targets(pause: PausePolicy, counts: Mapping[str, int],
            paused: Iterable[str]) -> list[Target]:
    """Pure: every game with unreturned bets or a pause, and the whole provider, each
    with its threshold. A game with neither, and no threshold at all, needs no look."""
    paused = set(paused)
    games = sorted((set(counts) | paused) - {WHOLE_PROVIDER})
    found = [Target(game, counts.get(game, 0), pause.game)
             for game in games if pause.game is not None or game in paused]
    if pause.provider is not None or WHOLE_PROVIDER in paused:
        found.append(Target(WHOLE_PROVIDER, sum(counts.values()), pause.provider))
    return found


@dataclass(frozen=True)
class PauseChange:
    """A transition this run made (and notified): ``verdict`` is PAUSE or RESUME."""

    provider: str
    game_id: str
    verdict: Verdict
    unreturned: int
    threshold: int | None


def watches(policy: ProviderPolicy) -> bool:
    """Whether the provider's policy sets any threshold."""
    return policy.pause.game is not None or policy.pause.provider is not None


def watch_games(ctx: Context) -> list[PauseChange]:
    """One pass over every provider with thresholds, or with games still paused."""
    with ctx.db.unit_of_work() as session:
        still_paused = pauses.providers_with_paused_games(session)
    changes: list[PauseChange] = []
    for name, policy in sorted(ctx.policies.items()):
        if watches(policy) or name in still_paused:
            changes += watch_provider(ctx, policy)
    return changes


def watch_provider(ctx: Context, policy: ProviderPolicy) -> list[PauseChange]:
    """Pause and resume one provider's games per its policy, in one transaction."""
    now = ctx.clock()
    cutoff = now - timedelta(seconds=policy.pause.unreturned_after)
    with ctx.db.unit_of_work() as session:
        pauses.take_turn(session, policy.name)
        counts = bet_queries.open_by_game(session, policy.name, cutoff)
        paused = pauses.paused_games(session, policy.name)
        changes = []
        for target in targets(policy.pause, counts, paused):
            verdict = decide(paused=target.game_id in paused, unreturned=target.unreturned,
                             threshold=target.threshold, resume_ratio=policy.pause.resume_ratio)
            if verdict is not Verdict.KEEP and _flip(session, policy, target, verdict, now):
                changes.append(PauseChange(policy.name, target.game_id, verdict,
                                           target.unreturned, target.threshold))
        session.commit()
    return changes


def _flip(session: Session, policy: ProviderPolicy, target: Target, verdict: Verdict,
          now: datetime) -> bool:
    """Make the transition if nobody made it yet, and write its notification with it."""
    flip = pauses.mark_paused if verdict is Verdict.PAUSE else pauses.mark_resumed
    flipped = flip(session, policy.name, target.game_id, target.unreturned, now)
    if not flipped:
        return False
    kind = (NotificationKind.GAME_PAUSED if verdict is Verdict.PAUSE
            else NotificationKind.GAME_RESUMED)
    repository.add_game_notification(session, kind, {
        "provider": policy.name,
        "game_id": target.game_id,
        "scope": "provider" if target.game_id == WHOLE_PROVIDER else "game",
        "unreturned": target.unreturned,
        "threshold": target.threshold,
        "unreturned_after": policy.pause.unreturned_after,
        "resume_at_or_below": (None if target.threshold is None
                               else target.threshold * policy.pause.resume_ratio),
    }, now=now)
    return True


def hold(ctx: Context, provider: str, game_id: str, actor: Actor) -> bool:
    """A person pauses a game of ``provider`` (``"*"``: all of them) after an outage; the
    game server is told, and the watcher never resumes it: only ``release`` does. True if
    it was not paused before."""
    return _by_hand(ctx, provider, game_id, actor, pause=True)


def release(ctx: Context, provider: str, game_id: str, actor: Actor) -> bool:
    """A person resumes a paused game (held or the watcher's); True if it was paused. The
    watcher pauses it again if its bets still do not come back."""
    return _by_hand(ctx, provider, game_id, actor, pause=False)


def _by_hand(ctx: Context, provider: str, game_id: str, actor: Actor, *, pause: bool) -> bool:
    """Flip the game as a person asked, taking the watchers' turn, and tell the game
    server in the same transaction if it flipped."""
    actor.require(Role.OPERATOR, "pause games" if pause else "resume games")
    ctx.policy(provider)  # an unknown provider is refused, naming the known ones
    require_text(game_id, "game_id")
    now = ctx.clock()
    with ctx.db.unit_of_work() as session:
        pauses.take_turn(session, provider)
        flipped = (pauses.hold(session, provider, game_id, by=actor.name, now=now) if pause
                   else pauses.release(session, provider, game_id, now=now))
        if flipped:
            kind = NotificationKind.GAME_PAUSED if pause else NotificationKind.GAME_RESUMED
            repository.add_game_notification(session, kind, {
                "provider": provider,
                "game_id": game_id,
                "scope": "provider" if game_id == WHOLE_PROVIDER else "game",
                "by": actor.name,  # a person's decision, not the watcher's counts
            }, now=now)
        session.commit()
    return flipped


def current(ctx: Context) -> list[GamePause]:
    """Every paused game now, with who holds it (None: the watcher)."""
    with ctx.db.unit_of_work() as session:
        rows = pauses.all_pauses(session)
        session.expunge_all()
    return rows
