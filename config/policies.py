"""Per-provider policies, loaded from a TOML file and validated at start-up.

A policy says how often a provider's unreturned bets are checked, when their
deadline falls and what happens then (its ``Escalation``, a domain value of
``betguard.models.domain.policy``). A broken file fails at start-up with a message naming
the provider and the key.
"""

from __future__ import annotations

import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError, model_validator

from betguard.models.domain.policy import Escalation

PositiveSeconds = Annotated[float, Field(gt=0)]


class PolicyError(ValueError):
    """Raised when the policy file is missing, unreadable or names a bad key."""


class PausePolicy(BaseModel):
    """When to tell the game server to pause a game (or every game of a provider) whose
    bets do not come back, and when to tell it the game may go on."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # A bet counts as unreturned once it is open this long after placement.
    unreturned_after: PositiveSeconds = 60.0
    game: int | None = Field(default=None, ge=1)  # unreturned bets of one game that pause it
    provider: int | None = Field(default=None, ge=1)  # ... of the whole provider
    # Paused until the unreturned bets fall to this share of the threshold (hysteresis).
    resume_ratio: float = Field(default=0.5, ge=0.0, lt=1.0)


class ProviderPolicy(BaseModel):
    """How one provider's bets are checked and escalated. The domain reads it as an
    ``EscalationPolicy`` (``betguard.models.domain.policy``) and a ``BackoffPolicy``
    (``betguard.models.domain.schedule``), which name only the fields it decides on."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    adapter: str = "generic"
    base_url: HttpUrl
    supports_batch: bool = False
    batch_size: int = Field(default=100, ge=1, le=500)  # bets per batched status request
    # Without batched status: checks due together are woken, claimed and concluded
    # together, up to this many, each bet still asked in its own call, the calls side by
    # side (at most `max_concurrency` at once). 1: every check on its own.
    check_group_size: int = Field(default=25, ge=1, le=500)
    first_check_delay: PositiveSeconds = 30.0
    backoff_base: PositiveSeconds = 30.0
    backoff_factor: float = Field(default=2.0, ge=1.0)
    backoff_cap: PositiveSeconds = 1800.0
    jitter: float = Field(default=1.0, ge=0.0, le=1.0)  # 1.0 is "full jitter"
    deadline: PositiveSeconds = 6 * 3600.0
    escalation: Escalation = Escalation.REVIEW
    refund_limit: Decimal | None = Field(default=None, ge=0)
    # Four eyes: a person's settle or refund putting more than this at stake needs a
    # second person's approval (models/domain/access.py). None: never.
    four_eyes_above: Decimal | None = Field(default=Decimal("500"), ge=0)
    connect_timeout: PositiveSeconds = 3.0
    read_timeout: PositiveSeconds = 10.0
    http_attempts: int = Field(default=3, ge=1, le=10)
    rate_limit: float | None = Field(default=None, gt=0)  # requests/s, shared by all workers
    # How long after placement a "never saw it" (404) answer is believed enough to start
    # the deadline path early (cancel to fence, then refund under the policy). Before it,
    # an unknown bet is checked again like a pending one: providers register bets late.
    # None: the deadline (an unknown bet waits for its deadline like any other).
    unknown_grace: PositiveSeconds | None = None
    # Bulkhead: provider calls of this provider in flight at once, shared by every worker;
    # a check that finds them all taken is rescheduled instead of waiting for a slot.
    # Keep it well below the provider worker's threads, so a provider that hangs holds
    # only its share of them.
    max_concurrency: int = Field(default=4, ge=1, le=1000)
    # Circuit breaker: after this many calls in a row without an answer (timeouts,
    # connection errors, 5xx) the provider is not called for `breaker_cooldown` seconds;
    # its checks are rescheduled meanwhile. Then one trial call decides.
    breaker_failures: int = Field(default=5, ge=1, le=1000)
    breaker_cooldown: PositiveSeconds = 30.0
    # Mirror domains: a provider that gives no answer on `base_url` is asked on the next.
    fallback_urls: list[HttpUrl] = Field(default_factory=list, max_length=10)
    # The adapter's own settings (e.g. an operator token, the domains a history is split
    # over); each adapter names what it takes and refuses the rest at start-up.
    options: dict[str, Any] = Field(default_factory=dict)
    # History feed (adapters with the "history" capability): pulled by beat every
    # `feed_interval` seconds, never more often per feed (the provider's rate limit),
    # `feed_page_size` rows a call. The feed shows bets up to `feed_lag` seconds late.
    feed_interval: PositiveSeconds = 60.0
    feed_page_size: int = Field(default=1500, ge=1, le=5000)
    feed_lag: float = Field(default=300.0, ge=0)
    # Without a cancel call, the provider resolves pending bets itself this long after
    # placement (and pays stakes back on its own); the deadline path waits until then
    # before a person is asked. None: the deadline sends the bet to review.
    provider_resolves_after: PositiveSeconds | None = None
    # Reconciliation: beat compares the last `reconcile_window` seconds every
    # `reconcile_interval` seconds (providers with a history feed only).
    reconcile_interval: PositiveSeconds = 3600.0
    reconcile_window: PositiveSeconds = 3600.0
    pause: PausePolicy = Field(default_factory=PausePolicy)

    @model_validator(mode="after")
    def _limit_matches_escalation(self) -> ProviderPolicy:
        if self.escalation is Escalation.REFUND_UP_TO and self.refund_limit is None:
            raise ValueError("escalation 'refund_up_to' needs refund_limit")
        if self.backoff_cap < self.backoff_base:
            raise ValueError("backoff_cap must not be below backoff_base")
        if self.unknown_grace is not None and self.unknown_grace > self.deadline:
            raise ValueError("unknown_grace must not be after the deadline")
        return self

    @property
    def checks_per_wakeup(self) -> int:
        """The most checks one wake-up carries: a batched request's bets, or a group of
        single calls."""
        return self.batch_size if self.supports_batch else self.check_group_size


def parse_policies(
    data: dict[str, object], *, source: str = "policies"
) -> dict[str, ProviderPolicy]:
    """Validate the ``[providers.<name>]`` tables of a parsed policy document."""
    providers = data.get("providers")
    if not isinstance(providers, dict) or not providers:
        raise PolicyError(f"{source}: no [providers.<name>] table")
    policies: dict[str, ProviderPolicy] = {}
    for name, table in providers.items():
        if not isinstance(table, dict):
            raise PolicyError(f"{source}: providers.{name} must be a table")
        if "name" in table:
            raise PolicyError(f"{source}: providers.{name}.name: the table's name is the name")
        try:
            policies[name] = ProviderPolicy.model_validate({"name": name, **table})
        except ValidationError as exc:
            raise PolicyError(_describe(source, name, exc)) from exc
    return policies


def load_policies(path: Path) -> dict[str, ProviderPolicy]:
    """Read and validate the policy file at ``path``."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PolicyError(f"policy file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"policy file {path} cannot be read: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{path}: not valid TOML: {exc}") from exc
    return parse_policies(data, source=str(path))


def _describe(source: str, name: str, exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"]) or "(table)"
        problems.append(f"providers.{name}.{key}: {error['msg']}")
    return f"{source}: " + "; ".join(problems)
