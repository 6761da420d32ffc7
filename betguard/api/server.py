"""Uvicorn's application factory. It runs in each server process at start-up, so
every process has its own engine and broker connections and none is made at import."""

from __future__ import annotations

import logging

from fastapi import FastAPI

from betguard.api.app import create_app
from betguard.bootstrap import build_context
from config.settings import get_settings
from tasks.app import app as celery_app
from tasks.scheduler import CeleryScheduler


def build_app() -> FastAPI:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = get_settings()
    scheduler = CeleryScheduler(celery_app, max_countdown=settings.max_countdown)
    ctx = build_context(settings, scheduler)
    return create_app(ctx, settings, on_shutdown=ctx.db.dispose)
