"""What the OpenAPI document says that only the running process knows: the providers
it is configured with, the only ones ``POST /bets`` takes (any other is refused with
422 naming ``provider``)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from fastapi import FastAPI


def state_configured_providers(app: FastAPI, providers: Collection[str]) -> None:
    """Build ``app``'s document now, with ``providers`` as the enum of each bet's
    ``provider`` in the body of ``POST /bets``, one bet or a batch's items."""
    document = app.openapi()  # cached by the app: every request is served this one
    body = document["paths"]["/bets"]["post"]["requestBody"]["content"]["application/json"]
    for bet in _bet_schemas(body["schema"]):
        if providers:
            bet["properties"]["provider"]["enum"] = sorted(providers)


def _bet_schemas(schema: dict[str, Any]) -> list[dict[str, Any]]:
    single, batch = schema["oneOf"]
    return [single, batch["properties"]["bets"]["items"]["anyOf"][0]]
