"""Beat's watch games task (being written)."""

from __future__ import annotations

from config.celery import GAMES_TASK
from tasks.app import app


@app.task(name=GAMES_TASK)
def watch_games() -> dict[str, int]:
    return {}
