"""``betguard notifications``: what the game server was told, and re-sending dead letters."""

from __future__ import annotations

import click
from sqlalchemy import select

from betguard.models.domain.errors import InvalidCommand
from betguard.models.domain.outbox import NotificationState
from betguard.models.store.tables import Bet, Notification
from betguard.ops import output
from betguard.ops.runtime import OpsCommand, json_option, open_ops
from betguard.ops.views import short_time
from betguard.services.notifications import resend_dead


@click.group(name="notifications")
def notifications() -> None:
    """Notifications to the game server: list them, re-send dead letters."""


@notifications.command(name="list", cls=OpsCommand)
@click.option("--dead", is_flag=True, help="Only dead letters (every attempt failed).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10000))
@json_option
def list_notifications(dead: bool, limit: int, as_json: bool) -> None:
    """The newest notifications, with their delivery state and last error."""
    # Outer: news about a game (a pause, a resume) concerns no bet.
    query = (select(Notification, Bet.provider, Bet.bet_ref)
             .outerjoin(Bet, Bet.id == Notification.bet_id)
             .order_by(Notification.id.desc()).limit(limit))
    if dead:
        query = query.where(Notification.state == NotificationState.DEAD.value)
    with open_ops() as ops, ops.context.db.unit_of_work() as session:
        found = [_row(n, _subject(n, provider, ref))
                 for n, provider, ref in session.execute(query)]
    if as_json:
        output.emit_json(found)
        return
    output.table(["event id", "ref", "event", "state", "attempts", "created", "last error"],
                 [[str(r["event_id"]), str(r["ref"]), str(r["event"]), str(r["state"]),
                   str(r["attempts"]), short_time(r["created_at"]),  # type: ignore[arg-type]
                   str(r["last_error"] or "")[:60]] for r in found],
                 title="notifications", empty="none")


def _subject(notification: Notification, provider: str | None, ref: str | None) -> str:
    """``provider/bet_ref`` for news about a bet, ``provider/game:GAME`` about a game."""
    if provider is not None:
        return f"{provider}/{ref}"
    payload = notification.payload
    return f"{payload.get('provider')}/game:{payload.get('game_id')}"


def _row(notification: Notification, ref: str) -> dict[str, object]:
    return {"event_id": notification.event_id, "ref": ref, "event": notification.kind,
            "state": notification.state, "attempts": notification.attempts,
            "created_at": notification.created_at, "last_error": notification.last_error}


@notifications.command(name="resend", cls=OpsCommand)
@click.argument("event_ids", nargs=-1)
@click.option("--all-dead", is_flag=True, help="Re-send every dead letter.")
@json_option
def resend(event_ids: tuple[str, ...], all_dead: bool, as_json: bool) -> None:
    """Give dead letters a fresh set of delivery attempts, now."""
    if bool(event_ids) == all_dead:
        raise click.UsageError("name the event ids to re-send, or give --all-dead")
    with open_ops() as ops:
        resent = resend_dead(ops.context, None if all_dead else list(event_ids))
    if not resent and event_ids:
        raise InvalidCommand("no dead letter among " + ", ".join(event_ids))
    if as_json:
        output.emit_json({"resent": len(resent)})
        return
    output.say(f"re-sending {len(resent)} notifications")
