"""Answers served by a fallback base URL (a provider's mirror domains): how long a
client keeps starting with the fallback that answered, and the process-wide hook told
of each such answer (the worker's metrics, installed by ``betguard.bootstrap``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

# How long a client keeps starting with the fallback that answered last, before the
# primary gets the first try again.
STICK_SECONDS = 30.0

# Told of every answer a fallback base URL gave: (provider or service name, base URL).
FallbackHook = Callable[[str, str], None]
_fallback_hook: FallbackHook | None = None


def set_fallback_hook(hook: FallbackHook | None) -> FallbackHook | None:
    """Install the process-wide hook told of answers served by a fallback (None: no
    hook); returns the hook it replaces."""
    global _fallback_hook
    previous, _fallback_hook = _fallback_hook, hook
    return previous


def fallback_served(service: str, url: str) -> None:
    """Tell the hook a fallback answered; a failing hook is logged, never raised: a
    metric must not turn an answer into an error. Every client that switches base URLs
    calls this."""
    hook = _fallback_hook
    if hook is None:
        return
    try:
        hook(service, url)
    except Exception:
        log.exception("fallback hook failed for %s (%s)", service, url)
