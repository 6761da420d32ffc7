"""The FastAPI application: intake and results for game servers, the review queue for
operators, health and metrics for the platform.

``create_app`` takes a context that is already built, so the application itself
opens nothing at import; ``betguard.api.server`` builds one per process.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import text

from betguard.api import routes_bets, routes_ops
from betguard.api.auth import KeyRing
from betguard.api.body_limit import BodyLimit
from betguard.api.console.install import install_console
from betguard.api.errors import install_error_handlers
from betguard.api.metrics_endpoint import SCRAPE_TIMEOUT, MetricsEndpoint
from betguard.api.openapi import state_configured_providers
from betguard.api.params import Ctx
from betguard.bootstrap import settle_heap
from betguard.config.settings import Settings
from betguard.services.context import Context
from betguard.services.intake_groups import IntakeGroups

DESCRIPTION = """\
No bet left unreturned. Game servers register bets and report the results they
received; betguard checks unreturned bets with their provider and escalates them to a
refund or a person. Send an API key as `Authorization: Bearer <key>` (or `X-API-Key`).
Money is always a decimal string such as `"12.50"`.
"""


def create_app(ctx: Context, settings: Settings, *,
               on_shutdown: Callable[[], None] | None = None,
               metrics_timeout: float = SCRAPE_TIMEOUT) -> FastAPI:
    """The API over ``ctx``; ``on_shutdown`` releases what the caller built for it."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        settle_heap()
        yield
        app.state.intake_groups.close()  # the bets handed over are written first
        if on_shutdown is not None:
            on_shutdown()

    app = FastAPI(title="betguard", version="1", description=DESCRIPTION, lifespan=lifespan)
    app.state.context = ctx
    app.state.intake_groups = IntakeGroups(ctx)  # single bets placed at once share a commit
    app.state.keys = KeyRing(settings.api_keys)
    install_error_handlers(app)
    app.add_middleware(BodyLimit, max_bytes=settings.api_max_body_bytes)
    app.include_router(routes_bets.router)
    app.include_router(routes_ops.router)
    install_console(app, settings)  # /console: the operations console (docs/console.md)
    app.add_api_route("/healthz", healthz, methods=["GET"], tags=["platform"],
                      summary="Ready when the database answers")
    # Unauthenticated on purpose: Prometheus scrapes it. It shows counts, never bets.
    # Read in a thread with a timeout: a slow database never blocks the event loop.
    metrics = MetricsEndpoint.of(ctx.db, settings=settings, timeout=metrics_timeout)
    app.add_route("/metrics", metrics.serve, methods=["GET"], include_in_schema=False)
    state_configured_providers(app, {name: policy.adapter
                                     for name, policy in ctx.policies.items()})
    return app


def healthz(ctx: Ctx) -> dict[str, str]:
    """200 when the database answers ``SELECT 1``; 503 (from the error handlers) if not."""
    with ctx.db.engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    return {"status": "ok"}
