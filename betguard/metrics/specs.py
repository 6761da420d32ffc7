"""Every metric betguard exposes, named once: its type, help text and labels.

The database collector, the worker's counters, the alert rules and the dashboard
all refer to these, so a renamed metric or label breaks a test instead of
silently leaving an alert that can never fire.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["gauge", "counter", "histogram"]


@dataclass(frozen=True)
class Spec:
    name: str  # without the ``_total`` that counters get in the exposition
    kind: Kind
    help: str
    labels: tuple[str, ...] = ()

    @property
    def series(self) -> dict[str, tuple[str, ...]]:
        """The sample names Prometheus stores for this metric, with their labels."""
        if self.kind == "counter":
            return {f"{self.name}_total": self.labels}
        if self.kind == "histogram":
            return {f"{self.name}_bucket": (*self.labels, "le"),
                    f"{self.name}_count": self.labels, f"{self.name}_sum": self.labels}
        return {self.name: self.labels}


# -- read from the database at scrape time (served by ``make_metrics_app``) -----------------
BETS = Spec("betguard_bets", "gauge", "Bets per state and provider.", ("state", "provider"))
OLDEST_PENDING_AGE = Spec(
    "betguard_oldest_pending_age_seconds", "gauge",
    "Seconds since the oldest pending bet of each provider was placed.", ("provider",))
OPEN_REVIEWS = Spec("betguard_open_reviews", "gauge",
                    "Review items waiting for a person, per reason.", ("reason",))
REFUNDS = Spec("betguard_refunds", "counter",
               "Bets refunded (final), per provider and currency.", ("provider", "currency"))
REFUNDED_AMOUNT = Spec("betguard_refunded_amount", "counter",
                       "Stakes refunded (final), per provider and currency.",
                       ("provider", "currency"))
NOTIFICATIONS = Spec("betguard_notifications", "gauge",
                     "Outbox notifications per state (pending, delivered, dead).", ("state",))
DEAD_LETTERS = Spec("betguard_notification_dead_letters", "gauge",
                    "Notifications that exhausted their attempts and wait for an operator.")
SWEEP_RUNS = Spec("betguard_sweep_runs", "counter", "Sweep runs, per kind.", ("kind",))
SWEEP_ITEMS = Spec("betguard_sweep_items", "counter",
                   "Items (lost or late wake-ups) dispatched by sweeps, per kind.", ("kind",))
SWEEP_LAST_RUN = Spec("betguard_sweep_last_run_timestamp_seconds", "gauge",
                      "When each kind of sweep last ran (Unix time).", ("kind",))
SWEEP_DURATION = Spec("betguard_sweep_duration_seconds", "gauge",
                      "How long the last run of each kind of sweep took.", ("kind",))

OPEN_DIFFERENCES = Spec(
    "betguard_reconciliation_open_differences", "gauge",
    "Differences between a provider's history and betguard's bets not yet resolved, per "
    "provider and kind (missing_here, missing_there, payout_differs, state_differs, "
    "duplicate).", ("provider", "kind"))
FEED_LAST_SUCCESS_AGE = Spec(
    "betguard_feed_last_success_age_seconds", "gauge",
    "Seconds since each provider feed was last pulled successfully (+Inf: never).",
    ("provider", "feed"))
FEED_SYNCED_AGE = Spec(
    "betguard_feed_synced_age_seconds", "gauge",
    "Seconds since each provider feed's copy last caught up with the provider (+Inf: "
    "never); decisions on a history-only provider's silence wait while it is too old.",
    ("provider", "feed"))
FEED_ROWS = Spec("betguard_feed_rows", "counter",
                 "Rows read from each provider feed (a row seen again counts again).",
                 ("provider", "feed"))
GAMES_PAUSED = Spec("betguard_games_paused", "gauge",
                    "Games (or whole providers: game \"*\") the game server was told to pause "
                    "for too many unreturned bets, per provider.", ("provider",))

DATABASE_SPECS = (BETS, OLDEST_PENDING_AGE, OPEN_REVIEWS, REFUNDS, REFUNDED_AMOUNT,
                  NOTIFICATIONS, DEAD_LETTERS, SWEEP_RUNS, SWEEP_ITEMS, SWEEP_LAST_RUN,
                  SWEEP_DURATION, OPEN_DIFFERENCES, FEED_LAST_SUCCESS_AGE, FEED_ROWS,
                  FEED_SYNCED_AGE,
                  GAMES_PAUSED)

# -- counted in memory by the provider worker (served on its own metrics port) --------------
CHECKS = Spec("betguard_checks", "counter",
              "Checks run, per provider and outcome (a CheckOutcome value, or error).",
              ("provider", "outcome"))
PROVIDER_CALLS = Spec("betguard_provider_call_seconds", "histogram",
                      "Provider calls (status, statuses, cancel) and how long they took.",
                      ("provider", "call", "result"))
NOTIFICATION_DELIVERIES = Spec(
    "betguard_notification_deliveries", "counter",
    "Notification delivery attempts, per outcome (a DeliveryOutcome value, or error).",
    ("outcome",))
REFUND_ATTEMPTS = Spec("betguard_refund_attempts", "counter",
                       "Refund attempts, per outcome (a RefundOutcome value, or error).",
                       ("outcome",))

BREAKER_STATE = Spec(
    "betguard_provider_breaker_state", "gauge",
    "Each provider's circuit breaker as Redis holds it at scrape time: 0 closed, "
    "1 half-open (one trial call decides), 2 open (calls refused without HTTP).",
    ("provider",))
PROVIDER_REJECTIONS = Spec(
    "betguard_provider_rejections", "counter",
    "Provider calls refused before any HTTP, per provider and reason: busy (every "
    "concurrency slot taken), open (circuit breaker open), unavailable (Redis unreadable).",
    ("provider", "reason"))
BREAKER_OPENINGS = Spec("betguard_provider_breaker_openings", "counter",
                        "Times a provider's circuit breaker opened (counted by the worker "
                        "whose call opened it).", ("provider",))

PROVIDER_FALLBACKS = Spec("betguard_provider_fallbacks", "counter",
                          "Provider answers served by a fallback base URL (the primary gave "
                          "no answer), per provider.", ("provider",))

PROVIDER_ANSWER_PROBLEMS = Spec(
    "betguard_provider_answer_problems", "counter",
    "Things in provider answers betguard could not take and decided nothing on, per "
    "provider and problem: unknown_code (an error code not in the dialect's table), "
    "row_refused (a history row with an unknown, missing or malformed field), "
    "other_product (a row of a product the feed was not asked about).",
    ("provider", "problem"))

# -- which servers the API reaches, read at scrape time (betguard/metrics/topology.py) -----
DATABASE_SERVER = Spec(
    "betguard_database_server", "gauge",
    "1 for the PostgreSQL server the API reaches, by address and role (primary or "
    "standby): a new address is a failover.", ("address", "role"))
DATABASE_STANDBYS = Spec(
    "betguard_database_standbys", "gauge",
    "Standbys streaming from the primary, per sync_state (sync, async, potential, quorum).",
    ("sync_state",))
DATABASE_COMMITS_WAIT = Spec(
    "betguard_database_commits_wait_for_standby", "gauge",
    "1 when the primary's commits wait for a synchronous standby "
    "(synchronous_standby_names is set).")
DATABASE_STANDBY_LAG = Spec(
    "betguard_database_standby_lag_bytes", "gauge",
    "WAL the primary has that each standby has not replayed.", ("standby",))
REDIS_MASTER = Spec(
    "betguard_redis_master", "gauge",
    "1 for the Redis server the guards reach, by address and how it was found "
    "(sentinel <name>, or REDIS_URL): a new address is a failover.", ("address", "via"))
REDIS_REPLICA_LAG = Spec(
    "betguard_redis_replica_lag_bytes", "gauge",
    "Replication stream the Redis master sent that each replica has not taken.",
    ("replica",))

TOPOLOGY_SPECS = (DATABASE_SERVER, DATABASE_STANDBYS, DATABASE_COMMITS_WAIT,
                  DATABASE_STANDBY_LAG, REDIS_MASTER, REDIS_REPLICA_LAG)

WORKER_SPECS = (CHECKS, PROVIDER_CALLS, NOTIFICATION_DELIVERIES, REFUND_ATTEMPTS,
                BREAKER_STATE, PROVIDER_REJECTIONS, BREAKER_OPENINGS, PROVIDER_FALLBACKS,
                PROVIDER_ANSWER_PROBLEMS)


def exposed_series() -> dict[str, tuple[str, ...]]:
    """Every sample name betguard exposes, with the labels it carries."""
    return {name: labels for spec in (*DATABASE_SPECS, *TOPOLOGY_SPECS, *WORKER_SPECS)
            for name, labels in spec.series.items()}
