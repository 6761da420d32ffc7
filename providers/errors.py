"""Errors raised by provider and wallet clients.

The category says what the caller should do: ``...Unavailable`` means the
answer is unknown and the call may be tried again later (handled like an
outage); ``...Rejected`` means the other side refused and repeating the same
call will not help.
"""

from __future__ import annotations


class ProviderError(Exception):
    """Raised when a call to a game provider does not give a usable answer."""


class ProviderUnavailable(ProviderError):
    """Raised when the provider cannot be reached, times out or answers 5xx."""


class ProviderInvalidResponse(ProviderUnavailable):
    """Raised when a response is malformed, mis-signed or about another bet."""


class ProviderGuarded(ProviderUnavailable):
    """Raised when betguard itself declined to call the provider: no request was sent."""


class ProviderBusy(ProviderGuarded):
    """Raised when every concurrency slot of the provider is taken (its bulkhead is full)."""


class CircuitOpen(ProviderGuarded):
    """Raised when the provider's circuit breaker is open after calls in a row got no answer."""


class GuardUnavailable(ProviderGuarded):
    """Raised when the bulkhead or breaker cannot be consulted (Redis): the call waits."""


class ProviderRejected(ProviderError):
    """Raised when the provider refuses the request (4xx other than the contract's)."""


class WalletError(Exception):
    """Raised when a refund call to the wallet does not give a usable answer."""


class WalletUnavailable(WalletError):
    """Raised when the wallet's answer is unknown: the refund is in doubt, retry same key."""


class WalletRejected(WalletError):
    """Raised when the wallet refuses the refund; a person must look at it."""


class NotificationFailed(Exception):
    """Raised when the game server did not confirm a notification; it is sent again later."""
