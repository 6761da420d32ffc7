"""What the OpenAPI document says that only the running process knows: the providers
it is configured with, the only ones ``POST /bets`` takes (any other is refused with
422 naming ``provider``), and what a bet's ``game_id`` and ``round_id`` must be for a
provider that names rounds by them (docs/design.md, "Bets and rounds")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI

from betguard.providers.registry import ROUND_NAMES, RoundNaming


def state_configured_providers(app: FastAPI, adapters: Mapping[str, str]) -> None:
    """Build ``app``'s document now, with the configured providers (name: adapter kind)
    as the enum of each bet's ``provider`` in the body of ``POST /bets``, one bet or a
    batch's items, and for each provider that names rounds the patterns its bets'
    fields must match."""
    document = app.openapi()  # cached by the app: every request is served this one
    body = document["paths"]["/bets"]["post"]["requestBody"]["content"]["application/json"]
    rules = [_round_rule(name, ROUND_NAMES[kind]) for name, kind in sorted(adapters.items())
             if kind in ROUND_NAMES]
    for bet in _bet_schemas(body["schema"]):
        if adapters:
            bet["properties"]["provider"]["enum"] = sorted(adapters)
        if rules:
            bet["allOf"] = [*bet.get("allOf", []), *rules]


def _round_rule(provider: str, naming: RoundNaming) -> dict[str, Any]:
    return {"if": {"properties": {"provider": {"const": provider}}, "required": ["provider"]},
            "then": {"properties": {field: {"pattern": f"^{pattern}$"}
                                    for field, pattern in naming.fields.items()}}}


def _bet_schemas(schema: dict[str, Any]) -> list[dict[str, Any]]:
    single, batch = schema["oneOf"]
    return [single, batch["properties"]["bets"]["items"]["anyOf"][0]]
