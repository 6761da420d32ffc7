"""Beat's watch games task: pause games whose bets do not come back, resume them when
they do (services/game_pauses.py). Every run looks at the bets as they are now, so a
run late, twice or never changes nothing it should not."""

from __future__ import annotations

import logging

from betguard.config.celery import GAMES_TASK
from betguard.messaging.app import app
from betguard.services.game_pauses import Verdict
from betguard.services.game_pauses import watch_games as watch
from betguard.tasks.runtime import context

log = logging.getLogger(__name__)


@app.task(name=GAMES_TASK)
def watch_games() -> dict[str, int]:
    changes = watch(context())
    for change in changes:
        log.warning("provider %s, game %s: %s (%d unreturned bets, threshold %s)",
                    change.provider, change.game_id, change.verdict.value, change.unreturned,
                    change.threshold)
    return {"paused": sum(c.verdict is Verdict.PAUSE for c in changes),
            "resumed": sum(c.verdict is Verdict.RESUME for c in changes)}
