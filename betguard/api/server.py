"""Uvicorn's application factory. It runs in each server process at start-up, so
every process has its own engine and broker connections and none is made at import."""

from __future__ import annotations

from fastapi import FastAPI

from betguard.api.app import create_app
from betguard.bootstrap import build_context
from betguard.config.celery import celery_config, fail_fast_publishing
from betguard.config.settings import get_settings
from betguard.logs import configure_root_logging
from betguard.messaging.app import app as celery_app
from betguard.messaging.scheduler import CeleryScheduler


def build_app() -> FastAPI:
    settings = get_settings()
    configure_root_logging(json=settings.log_json)
    # Intake must not wait for Redis: a refused connection is given up at once.
    celery_app.conf.update(fail_fast_publishing(celery_config(settings)))
    scheduler = CeleryScheduler.from_settings(celery_app, settings)
    ctx = build_context(settings, scheduler)
    return create_app(ctx, settings, on_shutdown=ctx.db.dispose)
