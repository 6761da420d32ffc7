"""A Pragmatic-style provider: hash-signed form parameters, incomplete rounds,
cancelRound and a CSV feed of finished rounds per domain.

(Skeleton: the adapter is being written; see the README's "Adding a provider".)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from providers.base import BetStatus, CancelOutcome, Capability, HistoryPage
from providers.errors import ProviderRejected


class PragmaticProvider:
    def __init__(
        self,
        *,
        name: str,
        base_url: str,
        secret: str,
        supports_batch: bool = False,
        connect_timeout: float = 2.0,
        read_timeout: float = 5.0,
        attempts: int = 3,
        throttle: Callable[[], None] | None = None,
        fallback_urls: Sequence[str] = (),
        page_size: int = 1500,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.supports_batch = False
        self.capabilities = frozenset({Capability.STATUS, Capability.CANCEL, Capability.HISTORY})
        self.feeds: tuple[str, ...] = ("main",)

    def get_status(self, bet_ref: str, player_id: str = "") -> BetStatus:
        raise ProviderRejected(f"provider {self.name}: not written yet")

    def get_statuses(self, bet_refs: list[str]) -> dict[str, BetStatus]:
        raise ProviderRejected(f"provider {self.name}: not written yet")

    def cancel(self, bet_ref: str, player_id: str = "") -> CancelOutcome:
        raise ProviderRejected(f"provider {self.name}: not written yet")

    def fetch_history(self, feed: str, cursor: str | None) -> HistoryPage:
        raise ProviderRejected(f"provider {self.name}: not written yet")
