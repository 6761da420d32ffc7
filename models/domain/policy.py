"""What the escalation reads of a provider's policy.

The policy file is read and validated by ``betguard.config.policies``; its
``ProviderPolicy`` has every field named here, so it is an ``EscalationPolicy`` as it
stands. The domain names only what it decides on, and so depends on no configuration
format (like ``betguard.models.domain.schedule.BackoffPolicy`` for the check schedule).
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Protocol


class Escalation(StrEnum):
    REFUND = "refund"  # at the deadline, cancel at the provider and refund when it accepts
    REVIEW = "review"  # at the deadline, a person decides
    REFUND_UP_TO = "refund_up_to"  # refund stakes up to `refund_limit`, review the rest


class EscalationPolicy(Protocol):
    """A provider's rules for bets that do not come back (field by field in
    ``betguard.config.policies.ProviderPolicy``)."""

    @property
    def escalation(self) -> Escalation: ...
    @property
    def refund_limit(self) -> Decimal | None: ...
    @property
    def unknown_grace(self) -> float | None: ...
    @property
    def provider_resolves_after(self) -> float | None: ...
    @property
    def feed_lag(self) -> float: ...
