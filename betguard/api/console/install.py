"""Put the console into the application: its pages, its static files, its security
headers and the page that refusals become."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from betguard.api.console import pages
from betguard.api.console.guard import PREFIX, ConsoleConfig, Refused, SecurityHeaders
from betguard.config.settings import Settings

STATIC = Path(__file__).parent / "static"


def install_console(app: FastAPI, settings: Settings) -> None:
    app.state.console = ConsoleConfig.of(settings)
    app.include_router(pages.router)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=STATIC), name="console-static")
    app.add_middleware(SecurityHeaders)

    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Refused)  # noqa: S101 - registered for Refused only
        return pages.refused_page(request, exc)

    app.add_exception_handler(Refused, refused)
    app.add_api_route(f"{PREFIX}/", lambda: RedirectResponse(PREFIX, status_code=308),
                      include_in_schema=False)
