"""The demo's scenarios: the provider's behaviour and when its outage happens."""

from __future__ import annotations

from dataclasses import dataclass, field

# The demo's providers and the kind of API (adapter) each speaks: two of the generic
# contract, one PG-like (a history feed only: no status call, no cancel) and one
# Pragmatic-like (hash-signed forms, incomplete rounds, cancelRound, a CSV feed).
KINDS = {"acme": "generic", "zenith": "generic", "lotus": "pgsoft", "orchid": "pragmatic"}
PROVIDERS = tuple(KINDS)

# Short times so a demo ends in about a minute; production policies use minutes and hours.
POLICIES = """
[providers.acme]     # refunds unreturned bets up to 100, a person decides above
base_url = "{sim}"
supports_batch = true
escalation = "refund_up_to"
refund_limit = "100.00"
first_check_delay = 1
backoff_base = 1
backoff_factor = 2
backoff_cap = 4
jitter = 0.5
deadline = 15
read_timeout = 1.0
http_attempts = 2
breaker_cooldown = 2  # back to trying soon after an outage: the deadline is 15 s away

[providers.zenith]   # every unreturned bet goes to a person at the deadline
base_url = "{sim}"
escalation = "review"
first_check_delay = 1
backoff_base = 1
backoff_factor = 2
backoff_cap = 4
jitter = 0.5
deadline = 15
read_timeout = 1.0
http_attempts = 2
breaker_cooldown = 2

[providers.lotus]    # PG-like: results only from its history feed, read a little late;
adapter = "pgsoft"   #   it cannot cancel, so unreturned bets wait for its own resolution
base_url = "{sim_pgsoft}"
escalation = "refund"
first_check_delay = 1
backoff_base = 1
backoff_factor = 2
backoff_cap = 4
jitter = 0.5
deadline = 15
unknown_grace = 15
provider_resolves_after = 20  # the simulator resolves pending bets itself after 12 s
read_timeout = 1.0
http_attempts = 2
breaker_cooldown = 2
feed_interval = 1
feed_lag = 3

[providers.lotus.options]
operator_token = "demo-operator"

[providers.orchid]   # Pragmatic-like: incomplete rounds, cancelRound, a CSV feed of results
adapter = "pragmatic"
base_url = "{sim_pragmatic}"
escalation = "refund_up_to"
refund_limit = "100.00"
first_check_delay = 1
backoff_base = 1
backoff_factor = 2
backoff_cap = 4
jitter = 0.5
deadline = 15
unknown_grace = 8
read_timeout = 1.0
http_attempts = 2
breaker_cooldown = 2
feed_interval = 2
feed_lag = 3

[providers.orchid.options]
secure_login = "demo-login"
"""

# The foreign dialects' simulators: records show in their feeds up to 2 s late; the
# PG-like provider resolves bets still pending after 12 s itself; the Pragmatic-like one
# refuses feed calls closer than 2 s.
DIALECT_KNOBS: dict[str, dict[str, object]] = {
    "pgsoft": {"feed_lag_range": [0.2, 2.0], "self_resolve_after": 12},
    "pragmatic": {"feed_lag_range": [0.2, 2.0], "feed_min_interval": 2},
}
SIMULATOR_ENV = {"SIMULATOR_PGSOFT_OPERATOR_TOKEN": "demo-operator",
                 "SIMULATOR_PRAGMATIC_SECURE_LOGIN": "demo-login"}

SETTINGS_ENV = {
    "BETGUARD_SWEEP_INTERVAL": "1",
    "BETGUARD_CHECK_LEASE": "10",
    "BETGUARD_DUE_GRACE": "1",
    "BETGUARD_REFUND_RETRY_DELAY": "1",
}


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    knobs: dict[str, object] = field(default_factory=dict)
    outage: tuple[float, float] | None = None  # seconds after the first bet is placed


SCENARIOS = {
    s.name: s
    for s in (
        Scenario(
            "mixed",
            "most results come back at once, some late, some never, some bets unknown to "
            "the provider; the provider registers bets up to 4 s late (it answers 404 "
            "meanwhile) and is down for 5 s in the middle",
            {"share_returned": 0.7, "share_delayed": 0.15, "share_never": 0.1,
             "share_unknown": 0.05, "delay_range": [1.0, 8.0],
             "registration_lag_range": [0.0, 4.0]},
            outage=(3.0, 8.0),
        ),
        Scenario(
            "calm",
            "no faults: results come back at once or a little late",
            {"share_returned": 0.8, "share_delayed": 0.2, "share_never": 0.0,
             "share_unknown": 0.0, "delay_range": [1.0, 6.0]},
        ),
        Scenario(
            "outage",
            "the provider is down past the deadline: cancels go unanswered, bets go to review",
            {"share_returned": 0.5, "share_delayed": 0.3, "share_never": 0.2,
             "share_unknown": 0.0, "delay_range": [1.0, 4.0]},
            outage=(0.5, 25.0),
        ),
        Scenario(
            "chaos",
            "errors, timeouts, malformed and mis-signed answers, and a flaky wallet throughout",
            {"share_returned": 0.6, "share_delayed": 0.2, "share_never": 0.15,
             "share_unknown": 0.05, "delay_range": [1.0, 8.0], "error_rate": 0.15,
             "timeout_rate": 0.03, "timeout_seconds": 1.5, "malformed_rate": 0.08,
             "bad_signature_rate": 0.04, "wallet_error_rate": 0.2},
        ),
    )
}
