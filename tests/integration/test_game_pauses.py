"""The circuit breaker for games, on the running stack: the ``pausing`` provider's bets do
not come back (fate "never", a person decides only at a deadline far away); once three of
one game are unreturned the game server gets a signed game_paused for that game (five of
the whole provider: for game "*"), and once the game server reports their results, a
game_resumed. Beat's watch games task does it; the outbox delivers it."""

from __future__ import annotations

import secrets
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from sqlalchemy import select

from betguard.models.store.tables import Bet, GamePause, Notification
from betguard.services.game_pauses import WHOLE_PROVIDER, watch_provider
from betguard.services.intake import place_bet
from betguard.services.results import report_result
from tests.integration.harness import Stack, bet_payload, wait_until
from tests.integration.ops import betguard

pytestmark = pytest.mark.integration

PROVIDER = "pausing"  # pause.game = 3, pause.provider = 5, resume_ratio 0.5


def place(stack: Stack, game_id: str, count: int) -> list[str]:
    """Bets the provider never returns, placed in ``game_id``."""
    refs = [f"gp-{secrets.token_hex(6)}" for _ in range(count)]
    requests.post(stack.sim_url + "/_sim/bets", json={"bets": [
        {"bet_ref": ref, "stake": "10.00", "currency": "EUR", "fate": "never"} for ref in refs]},
        timeout=10).raise_for_status()
    for ref in refs:
        place_bet(stack.context, {**bet_payload(PROVIDER, ref), "game_id": game_id})
    return refs


def resolve(stack: Stack, refs: list[str]) -> None:
    """The game server reports each bet's result: the bets come back."""
    for ref in refs:
        report_result(stack.context, PROVIDER, ref, payout="0.00", currency="EUR")


def news(stack: Stack, game_id: str) -> list[dict[str, Any]]:
    assert stack.receiver is not None
    return stack.receiver.for_game(PROVIDER, game_id)


def wait_for_news(stack: Stack, game_id: str, event: str, count: int = 1) -> dict[str, Any]:
    found = wait_until(lambda: [n for n in news(stack, game_id) if n["event"] == event][
        count - 1:], describe=lambda: f"{game_id}: {news(stack, game_id)}")
    return dict(found[0])


def outbox(stack: Stack, game_id: str) -> list[str]:
    """The kinds of the notifications written about ``game_id`` of the provider, in order."""
    with stack.context.db.unit_of_work() as session:
        rows = session.execute(select(Notification.kind, Notification.payload, Notification.bet_id)
                               .where(Notification.bet_id.is_(None))
                               .order_by(Notification.id))
        return [kind for kind, payload, _ in rows
                if payload.get("provider") == PROVIDER and payload.get("game_id") == game_id]


def paused(stack: Stack, game_id: str) -> bool | None:
    with stack.context.db.unit_of_work() as session:
        row = session.get(GamePause, (PROVIDER, game_id))
        return None if row is None else row.paused


def test_three_unreturned_bets_of_a_game_pause_it_and_their_results_resume_it(
    stack: Stack,
) -> None:
    assert stack.receiver is not None
    bad_signatures = stack.receiver.bad_signatures
    game, neighbour = f"slots-{secrets.token_hex(4)}", f"poker-{secrets.token_hex(4)}"
    refs, other = place(stack, game, 3), place(stack, neighbour, 1)

    pause = wait_for_news(stack, game, "game_paused")

    assert {k: pause[k] for k in ("provider", "game_id", "scope", "unreturned", "threshold")} == {
        "provider": PROVIDER, "game_id": game, "scope": "game", "unreturned": 3, "threshold": 3}
    assert paused(stack, game) is True
    assert paused(stack, neighbour) is None and news(stack, neighbour) == []
    assert stack.receiver.bad_signatures == bad_signatures  # verified, signed like the others
    games_told = {(n["provider"], n["game_id"]) for n in stack.receiver.accepted
                  if n["event"] in ("game_paused", "game_resumed")}
    assert (PROVIDER, WHOLE_PROVIDER) not in games_told  # 4 unreturned bets: below 5
    assert {provider for provider, _ in games_told} == {PROVIDER}

    resolve(stack, refs[:1])  # 2 unreturned: above 3 * 0.5, the game stays paused
    assert [c for c in watch_provider(stack.context, stack.context.policy(PROVIDER))
            if c.game_id == game] == []
    assert paused(stack, game) is True

    resolve(stack, refs[1:] + other)
    resumed = wait_for_news(stack, game, "game_resumed")

    assert resumed["threshold"] == 3 and resumed["unreturned"] <= 1  # 3 * 0.5 or fewer
    assert paused(stack, game) is False
    assert outbox(stack, game) == ["game_paused", "game_resumed"]
    assert outbox(stack, neighbour) == []


def test_the_notifications_list_shows_news_about_a_game(stack: Stack) -> None:
    game = f"dice-{secrets.token_hex(4)}"
    refs = place(stack, game, 3)
    wait_for_news(stack, game, "game_paused")
    resolve(stack, refs)  # the provider's other tests count its unreturned bets
    wait_for_news(stack, game, "game_resumed")

    listed = betguard(stack, "notifications", "list", "--limit", "10000", "--json").json()

    about_game = [n for n in listed if n["ref"] == f"{PROVIDER}/game:{game}"]
    assert [n["event"] for n in about_game] == ["game_resumed", "game_paused"]  # newest first


def test_watchers_running_at_once_send_one_pause(stack: Stack) -> None:
    game = f"dice-{secrets.token_hex(4)}"
    refs = place(stack, game, 3)
    policy = stack.context.policy(PROVIDER)
    gate = threading.Barrier(4)
    changes: list[str] = []

    def watch() -> None:
        gate.wait()
        for _ in range(5):
            changes.extend(c.verdict.value for c in watch_provider(stack.context, policy)
                           if c.game_id == game)

    wait_until(lambda: paused(stack, game) is not None or _unreturned_long_enough(stack, refs))
    threads = [threading.Thread(target=watch) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    wait_for_news(stack, game, "game_paused")
    assert outbox(stack, game) == ["game_paused"]
    assert changes in ([], ["pause"])  # beat's own run may have been first
    resolve(stack, refs)
    wait_for_news(stack, game, "game_resumed")
    assert outbox(stack, game) == ["game_paused", "game_resumed"]


def _unreturned_long_enough(stack: Stack, refs: list[str]) -> bool:
    """Whether the bets are past ``unreturned_after`` (so the watchers race to pause)."""
    after = timedelta(seconds=stack.context.policy(PROVIDER).pause.unreturned_after)
    with stack.context.db.unit_of_work() as session:
        placed = session.scalars(select(Bet.placed_at).where(Bet.provider == PROVIDER,
                                                             Bet.bet_ref.in_(refs)))
        return all(datetime.now(UTC) - at > after for at in placed)


def test_five_unreturned_bets_over_several_games_pause_the_whole_provider_not_a_game(
    stack: Stack,
) -> None:
    run = secrets.token_hex(4)
    games = [f"wheel-{run}-{n}" for n in range(3)]
    before = outbox(stack, WHOLE_PROVIDER).count("game_paused")
    refs = [ref for game in games for ref in place(stack, game, 2)]  # 6 bets, 2 per game

    pause = wait_for_news(stack, WHOLE_PROVIDER, "game_paused", count=before + 1)

    assert (pause["scope"], pause["threshold"]) == ("provider", 5) and pause["unreturned"] >= 5
    assert all(news(stack, game) == [] and paused(stack, game) is None for game in games)

    resolve(stack, refs)
    wait_until(lambda: paused(stack, WHOLE_PROVIDER) is False)
    assert outbox(stack, WHOLE_PROVIDER)[-2:] == ["game_paused", "game_resumed"]
    wait_for_news(stack, WHOLE_PROVIDER, "game_resumed",
                  count=outbox(stack, WHOLE_PROVIDER).count("game_resumed"))
