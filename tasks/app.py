"""The Celery app. Its configuration is read lazily, once, from the settings."""

from __future__ import annotations

from typing import Any

from celery import Celery

from betguard import logs
from config.celery import celery_config
from config.settings import get_settings


def _config() -> dict[str, Any]:
    return celery_config(get_settings())


app = Celery("betguard", include=["tasks.bets", "tasks.sweeps", "tasks.feeds", "tasks.reconcile",
                                     "tasks.games"])
app.add_defaults(_config)
logs.install()  # before Celery sets up logging: workers and beat alike
