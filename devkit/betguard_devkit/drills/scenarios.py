"""The drills: which faults each injects, and the policies they run under."""

from __future__ import annotations

from dataclasses import dataclass

# The drill's providers and the kind of API (adapter) each speaks: two of the generic
# contract, one PG-like (history feed only: no status call, no cancel) and one
# Pragmatic-like (hash-signed forms, incomplete rounds, cancelRound, a CSV feed).
KINDS = {"alpha": "generic", "beta": "generic", "gamma": "pgsoft", "delta": "pragmatic"}
PROVIDERS = tuple(KINDS)
DIALECTS = ("pgsoft", "pragmatic")
RATE_LIMIT = 20.0  # alpha's requests per second, shared by every worker

POLICIES = f"""
[providers.alpha]    # refunds at the deadline; a rate limit the backlog must respect
base_url = "{{sim}}"
escalation = "refund"
first_check_delay = 0.5
backoff_base = 0.5
backoff_factor = 2
backoff_cap = 2
jitter = 0.5
deadline = 6
read_timeout = 1.0
http_attempts = 2
rate_limit = {RATE_LIMIT}
breaker_cooldown = 2  # after an outage, back soon: deadlines are 6 s away

[providers.beta]     # refunds up to 100, a person decides above
base_url = "{{sim}}"
escalation = "refund_up_to"
refund_limit = "100.00"
first_check_delay = 0.5
backoff_base = 0.5
backoff_factor = 2
backoff_cap = 2
jitter = 0.5
deadline = 6
read_timeout = 1.0
http_attempts = 2
breaker_cooldown = 2

[providers.gamma]    # PG-like: only a history feed; the provider resolves pending bets itself
adapter = "pgsoft"
base_url = "{{sim_pgsoft}}"
escalation = "refund"
first_check_delay = 0.5
backoff_base = 0.5
backoff_factor = 2
backoff_cap = 2
jitter = 0.5
deadline = 8
unknown_grace = 8
provider_resolves_after = 14  # the simulator resolves them after 9 s
read_timeout = 1.0
http_attempts = 2
breaker_cooldown = 2
feed_interval = 0.5
feed_lag = 2

[providers.gamma.options]
operator_token = "drill-operator"

[providers.delta]    # Pragmatic-like: incomplete rounds, cancelRound, a CSV feed of results
adapter = "pragmatic"
base_url = "{{sim_pragmatic}}"
escalation = "refund"
first_check_delay = 0.5
backoff_base = 0.5
backoff_factor = 2
backoff_cap = 2
jitter = 0.5
deadline = 8
unknown_grace = 4
read_timeout = 1.0
http_attempts = 2
breaker_cooldown = 2
feed_interval = 1
feed_lag = 2

[providers.delta.options]
secure_login = "drill-login"
"""

# The foreign dialects' simulators: records show in their feeds up to 1.5 s late; the
# PG-like provider resolves bets still pending after 9 s itself (and pays the stake back
# into the wallet on its own); the Pragmatic-like one answers a feed called more than
# once a second with its "too often" error.
DIALECT_KNOBS: dict[str, dict[str, object]] = {
    "pgsoft": {"feed_lag_range": [0.2, 1.5], "self_resolve_after": 9},
    "pragmatic": {"feed_lag_range": [0.2, 1.5], "feed_min_interval": 1},
}
# Environment of every process the drill starts (the simulators read their operator
# token from it).
SIMULATOR_ENV = {"SIMULATOR_PGSOFT_OPERATOR_TOKEN": "drill-operator",
                 "SIMULATOR_PRAGMATIC_SECURE_LOGIN": "drill-login"}

SETTINGS_ENV = {
    "BETGUARD_SWEEP_INTERVAL": "1",
    "BETGUARD_CHECK_LEASE": "5",
    "BETGUARD_DUE_GRACE": "1",
    "BETGUARD_REFUND_RETRY_DELAY": "1",
    "BETGUARD_NOTIFY_ATTEMPTS": "20",
    "BETGUARD_NOTIFY_RETRY_BASE": "0.5",
}

CHAOS_KNOBS: dict[str, object] = {
    "error_rate": 0.15, "timeout_rate": 0.03, "timeout_seconds": 1.5, "malformed_rate": 0.05,
    "bad_signature_rate": 0.03,
    # Late registrations: the provider answers 404 for a bet for up to 8 s after it was
    # placed, past the 6 s deadline for some (their cancel fences them: a tombstone).
    "registration_lag_range": [0.5, 8.0],
}

FAULTS = ("worker-kills", "redis-loss", "db-restart", "provider-chaos", "duplicates")
# The failover drill's (drills/failover.py): it runs on Sentinel and a standby, and
# places bets through the API as well.
FAILOVER_FAULTS = ("provider-chaos", "redis-failover", "postgres-failover", "worker-cut-off",
                   "beat-move")


@dataclass(frozen=True)
class Drill:
    name: str
    description: str
    faults: tuple[str, ...]


DRILLS = {
    d.name: d
    for d in (
        Drill("worker-kills", "SIGKILL a random worker every few seconds, then restart it",
              ("worker-kills",)),
        Drill("redis-loss", "stop Redis and start it again with all data gone, twice",
              ("redis-loss",)),
        Drill("db-restart", "restart PostgreSQL in the middle of the run", ("db-restart",)),
        Drill("provider-chaos", "5xx, timeouts, malformed and mis-signed answers, bets "
              "registered up to 8 s late, an outage, and the PG-like feed held twice by a "
              "pull that never finishes; afterwards the backlog drains within the rate limit",
              ("provider-chaos",)),
        Drill("duplicates", "every task message delivered two to five times", ("duplicates",)),
        Drill("all", "everything above at once", FAULTS),
        Drill("failover", "on Redis Sentinel and a PostgreSQL standby, with provider chaos: "
              "SIGKILL the Redis master, later the PostgreSQL primary (the standby is "
              "promoted), cut a worker off for longer than a lease, move beat",
              FAILOVER_FAULTS),
    )
}
