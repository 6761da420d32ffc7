"""Which adapter serves which kind of provider.

Adding a provider is one adapter module plus one line in ``ADAPTERS``.
"""

from __future__ import annotations

from collections.abc import Callable

from betguard.providers.base import Provider
from betguard.providers.client_settings import ProviderClientSettings
from betguard.providers.generic import GenericHttpProvider
from betguard.providers.pgsoft import PgSoftProvider
from betguard.providers.pragmatic import PragmaticProvider

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
