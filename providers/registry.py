"""Which adapter serves which kind of provider.

Adding a provider is one adapter module plus one line in ``ADAPTERS``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from betguard.providers.base import Provider
from betguard.providers.client_settings import ProviderClientSettings
from betguard.providers.generic import GenericHttpProvider
from betguard.providers.pgsoft import PgSoftProvider
from betguard.providers.pragmatic import PragmaticProvider
from betguard.providers.pragmatic_wire import GAME_ID, ROUND_ID, round_ref


@dataclass(frozen=True)
class RoundNaming:
    """How a provider that names rounds, not bets, names a bet's round from the bet's
    game_id and round_id (``name`` raises ``RoundFieldError``), and the pattern each of
    those fields must fully match (the intake's rule, stated in the API's document)."""

    name: Callable[[str, str], str]
    fields: Mapping[str, str]


# Adapters whose provider names rounds. A provider of any other kind names each bet by
# its bet_ref: a round of its own.
ROUND_NAMES: dict[str, RoundNaming] = {
    "pragmatic": RoundNaming(round_ref, {"game_id": GAME_ID, "round_id": ROUND_ID}),
}

ADAPTERS: dict[str, Callable[[ProviderClientSettings], Provider]] = {
    "generic": GenericHttpProvider,
    "pgsoft": PgSoftProvider,
    "pragmatic": PragmaticProvider,
}


def build_provider(kind: str, settings: ProviderClientSettings) -> Provider:
    """Build the adapter for ``kind`` from the provider's client settings."""
    try:
        adapter = ADAPTERS[kind]
    except KeyError:
        known = ", ".join(sorted(ADAPTERS))
        raise ValueError(f"unknown provider kind {kind!r}; known kinds: {known}") from None
    return adapter(settings)


def round_of(kind: str, *, bet_ref: str, game_id: str, round_id: str) -> str:
    """How a provider of adapter ``kind`` names the bet's round (its calls and history
    are given this): the bet_ref, unless it names rounds (:data:`ROUND_NAMES`)."""
    naming = ROUND_NAMES.get(kind)
    return bet_ref if naming is None else naming.name(game_id, round_id)
