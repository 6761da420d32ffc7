"""Which adapter serves which kind of provider.

Adding a provider is one adapter module plus one line in ``ADAPTERS``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from betguard.providers.base import Provider
from betguard.providers.generic import GenericHttpProvider
from betguard.providers.pgsoft import PgSoftProvider
from betguard.providers.pragmatic import PragmaticProvider

ADAPTERS: dict[str, Callable[..., Provider]] = {
    "generic": GenericHttpProvider,
    "pgsoft": PgSoftProvider,
    "pragmatic": PragmaticProvider,
}


def build_provider(kind: str, **options: Any) -> Provider:
    """Build the adapter for ``kind`` with its keyword options (name, base_url, secret, ...)."""
    try:
        adapter = ADAPTERS[kind]
    except KeyError:
        known = ", ".join(sorted(ADAPTERS))
        raise ValueError(f"unknown provider kind {kind!r}; known kinds: {known}") from None
    return adapter(**options)
