"""The Celery app. Its configuration is read lazily, once, from the settings.

Every process that publishes (the API, the ops commands) or works (``celery -A
betguard.tasks.app``) uses this one app. Its tasks live in ``betguard.tasks``: named
here only as modules for a worker to import at start, so publishing never loads them.
"""

from __future__ import annotations

from typing import Any

from celery import Celery

from betguard import logs
from betguard.config.celery import celery_config
from betguard.config.settings import get_settings
from betguard.messaging.transport import register_sentinel_alias


def _config() -> dict[str, Any]:
    return celery_config(get_settings())


TASK_MODULES = [f"betguard.tasks.{name}"
                for name in ("bets", "sweeps", "feeds", "reconcile", "games", "health")]
register_sentinel_alias()  # before any broker connection (betguard/messaging/transport.py)
app = Celery("betguard", include=TASK_MODULES)
app.add_defaults(_config)
logs.install()  # before Celery sets up logging: workers and beat alike
