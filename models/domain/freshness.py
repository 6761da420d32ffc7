"""Whether a copy of a provider's history is fresh enough to decide on.

A provider that answers only through a history feed is known by betguard through the
mirror, which is as old as the feed's last pull that caught up (``synced_at``). "The
provider still has the bet open" read there is true only up to that moment. So a
decision that rests on the provider's silence up to some moment (the deadline, the
moment its "never saw it" is believed, the moment its own resolution can be seen)
waits until the copy covers that moment; a final row is a fact whenever it arrived.
"""

from __future__ import annotations

from datetime import datetime

from betguard.models.domain.answers import VIA_MIRROR, BetStatus, Capability, ProviderStatus
from betguard.models.domain.escalation import (
    Action,
    ConflictingAnswer,
    Decision,
    resolution_seen_at,
    unknown_believed_at,
)
from betguard.models.domain.policy import EscalationPolicy

# Decisions that rest on the provider's silence (a reschedule or a settle does not).
ON_SILENCE = frozenset({Action.REVIEW, Action.CANCEL, Action.REFUND})
SILENT = frozenset({ProviderStatus.PENDING, ProviderStatus.UNKNOWN})


def must_cover(policy: EscalationPolicy, capabilities: frozenset[Capability], *,
               answer: BetStatus, placed_at: datetime, deadline: datetime) -> datetime:
    """The moment up to which the provider's silence must be known for a decision at the
    deadline path: the deadline (for an unknown bet, the moment "never saw it" is
    believed), or later, when the policy waits for the provider's own resolution."""
    moment = deadline
    if answer.status is ProviderStatus.UNKNOWN:
        moment = unknown_believed_at(policy, placed_at=placed_at, deadline=deadline)
    seen = resolution_seen_at(policy, capabilities, placed_at=placed_at)
    return moment if seen is None else max(moment, seen)


def rests_on_the_copy(decision: Decision, answer: BetStatus) -> bool:
    """Whether ``decision`` rests on the silence of a history copy: taken on a pending or
    unknown answer read from the mirror (a provider's own answer, rows that disagree or
    a final row are facts of their own)."""
    return (answer.via == VIA_MIRROR and answer.status in SILENT
            and not isinstance(answer, ConflictingAnswer) and decision.action in ON_SILENCE)


def wait_for_the_copy(synced_at: datetime | None, covers: datetime, *,
                      retry_in: float) -> Decision | None:
    """A reschedule (asking again in ``retry_in`` seconds, the feed's next pull) while
    the copy the answer was read from (caught up at ``synced_at``, the answer's
    ``as_of``; None: never) is older than ``covers``; None when it covers it."""
    if synced_at is not None and synced_at >= covers:
        return None
    seen = "never" if synced_at is None else synced_at.isoformat()
    return Decision(Action.RESCHEDULE,
                    f"the provider's history feed last caught up {seen}, before "
                    f"{covers.isoformat()}, which this decision must cover: waiting for the feed",
                    retry_in=retry_in)
