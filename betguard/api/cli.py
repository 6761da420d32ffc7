"""``betguard api``: serve the HTTP API with uvicorn."""

from __future__ import annotations

import click
from pydantic import ValidationError


@click.command("api")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Server processes; each builds its own database and broker connections.")
def api_command(host: str, port: int, workers: int) -> None:
    """Serve the HTTP API: intake and results for game servers, reviews for operators."""
    import uvicorn

    from betguard.config.settings import SettingsError, get_settings

    try:
        settings = get_settings()
        if not settings.api_keys:
            raise SettingsError(
                "no API keys: set BETGUARD_API_KEYS to a JSON list of "
                '{"name", "role": "game_server"|"operator", "sha256"}'
            )
        settings.validate_for_start()
    except (SettingsError, ValidationError) as exc:
        message = " ".join(str(exc).split())
        click.echo(f"error: {message}", err=True)
        raise SystemExit(1) from None
    uvicorn.run("betguard.api.server:build_app", factory=True, host=host, port=port,
                workers=workers, proxy_headers=False, log_level="info")
