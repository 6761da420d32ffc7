"""The clock and the policies the escalation decision's unit tests share: a bet placed
at PLACED_AT, asked about at NOW, its deadline six hours on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import HttpUrl

from betguard.config.policies import Escalation, ProviderPolicy

PLACED_AT = datetime(2026, 1, 1, tzinfo=UTC)
NOW = PLACED_AT + timedelta(seconds=5)
DEADLINE = PLACED_AT + timedelta(hours=6)


def policy(escalation: Escalation, **changes: Any) -> ProviderPolicy:
    """A provider policy escalating by ``escalation``, otherwise the defaults."""
    return ProviderPolicy(
        name="acme", base_url=HttpUrl("http://provider.test"), escalation=escalation, **changes
    )


REFUND = policy(Escalation.REFUND)
