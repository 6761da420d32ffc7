"""The alert rules and the dashboard name only metrics and labels betguard exposes,
each alert says how bad it is and what happened, and (where promtool is installed)
the rules load and fire on the situations they describe, and only on those."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from betguard.metrics.specs import DATABASE_SPECS, WORKER_SPECS, exposed_series

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "monitoring" / "prometheus" / "alerts.yml"
DASHBOARD = ROOT / "monitoring" / "grafana" / "betguard.json"
SEVERITIES = {"critical", "warning", "info"}
TARGET_LABELS = {"job", "instance"}  # added by Prometheus to every scraped series
PROMETHEUS_OWN = {"up": ("job", "instance")}
FUNCTIONS = {"sum", "max", "min", "avg", "count", "rate", "irate", "increase", "delta",
             "time", "absent", "histogram_quantile", "max_over_time", "min_over_time",
             "clamp_min", "clamp_max", "topk", "bottomk", "vector", "scalar"}
KEYWORDS = {"and", "or", "unless", "bool", "offset", "group_left", "group_right"}
GROUPING = re.compile(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)")
SELECTOR = re.compile(r"(?<![\w.])([A-Za-z_:][\w:]*)\s*(\{[^}]*\})?\s*(\()?")
MATCHER = re.compile(r"(\w+)\s*(?:=~|!~|!=|=)")
promtool = shutil.which("promtool")
REDIS_MASTER = "betguard_redis_master"
DB_SERVER = "betguard_database_server"


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def dashboard_exprs() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [target["expr"] for panel in panels for target in panel["targets"]]


def selectors(expr: str) -> tuple[dict[str, set[str]], set[str]]:
    """The metrics an expression selects (with the labels it matches on), and the
    labels it groups by. Raises on a function PromQL does not know here."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\[[^\]]*\]", "", text)  # range selectors: [5m]
    grouped = {label.strip() for labels in GROUPING.findall(text)
               for label in labels.split(",") if label.strip()}
    text = GROUPING.sub(" ", text)
    metrics: dict[str, set[str]] = {}
    for name, braces, call in SELECTOR.findall(text):
        if call:
            assert name in FUNCTIONS, f"unknown function {name!r} in {expr!r}"
        elif name not in KEYWORDS:
            metrics.setdefault(name, set()).update(MATCHER.findall(braces or ""))
    return metrics, grouped


def check_expression(expr: str) -> None:
    known = {**exposed_series(), **PROMETHEUS_OWN}
    metrics, grouped = selectors(expr)
    assert metrics, f"no metric in {expr!r}"
    available = set(TARGET_LABELS)
    for name, matched in metrics.items():
        assert name in known, f"{name!r} is not a metric betguard exposes ({expr!r})"
        available |= set(known[name])
        assert matched <= set(known[name]) | TARGET_LABELS, f"{name}: labels {matched}"
    assert grouped <= available, f"grouping by unknown labels {grouped - available} in {expr!r}"


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda rule: rule["alert"])
def test_every_alert_waits_a_while_and_says_how_bad_it_is_and_what_happened(
    rule: dict[str, Any],
) -> None:
    assert re.fullmatch(r"Betguard[A-Z]\w+", rule["alert"])
    assert re.fullmatch(r"\d+[smh]", str(rule["for"]))
    assert rule["labels"]["severity"] in SEVERITIES
    assert rule["annotations"]["summary"].strip()
    assert rule["annotations"]["description"].strip()


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda rule: rule["alert"])
def test_every_alert_names_only_metrics_and_labels_betguard_exposes(
    rule: dict[str, Any],
) -> None:
    check_expression(rule["expr"])


def test_the_alerts_cover_what_ops_asked_for() -> None:
    exprs = " ".join(rule["expr"] for rule in alert_rules())

    for name in ("betguard_oldest_pending_age_seconds", "betguard_provider_call_seconds_count",
                 "betguard_open_reviews", "betguard_notification_dead_letters",
                 "betguard_sweep_last_run_timestamp_seconds", "betguard_refunds_total",
                 "betguard_provider_breaker_state", "betguard_reconciliation_open_differences",
                 "betguard_feed_last_success_age_seconds", "betguard_feed_synced_age_seconds",
                 "betguard_games_paused", "betguard_redis_master", "betguard_database_server",
                 "betguard_database_standby_lag_bytes", "betguard_redis_replica_lag_bytes"):
        assert name in exprs


@pytest.mark.parametrize("expr", dashboard_exprs())
def test_every_dashboard_panel_names_only_metrics_and_labels_betguard_exposes(
    expr: str,
) -> None:
    check_expression(expr)


def test_the_dashboard_has_a_panel_for_every_metric() -> None:
    shown = {name for expr in dashboard_exprs() for name in selectors(expr)[0]}

    for spec in (*DATABASE_SPECS, *WORKER_SPECS):
        assert set(spec.series) & shown, f"no panel shows {spec.name}"


@pytest.mark.skipif(promtool is None, reason="promtool is not installed")
def test_the_rules_file_loads_in_prometheus() -> None:
    done = subprocess.run([str(promtool), "check", "rules", str(ALERTS)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


CALLS = "betguard_provider_call_seconds_count"
DIFFERENCES = "betguard_reconciliation_open_differences"
FEED_AGE = "betguard_feed_last_success_age_seconds"
SYNCED_AGE = "betguard_feed_synced_age_seconds"
BREAKER = "betguard_provider_breaker_state"
# Each case: series over 40 minutes, one per minute, and the alerts expected at 35m.
FIRING_CASES: list[dict[str, Any]] = [
    {"series": {'betguard_sweep_last_run_timestamp_seconds{kind="checks"}': "0+0x40",
                'betguard_sweep_last_run_timestamp_seconds{kind="refunds"}': "0+60x40"},
     "alert": "BetguardSweepNotRunning", "fires": [{"kind": "checks", "severity": "critical"}]},
    {"series": {'betguard_bets{state="refund_pending",provider="stuck"}': "2x40",
                'betguard_refunds_total{provider="stuck",currency="EUR"}': "5x40",
                'betguard_bets{state="refund_pending",provider="busy"}': "3x40",
                'betguard_refunds_total{provider="busy",currency="EUR"}': "0+1x40"},
     "alert": "BetguardRefundsStuck", "fires": [{"provider": "stuck", "severity": "critical"}]},
    {"series": {CALLS + '{provider="down",call="status",result="error"}': "0+10x40",
                CALLS + '{provider="down",call="status",result="ok"}': "0+10x40",
                CALLS + '{provider="quiet",call="status",result="error"}': "0+0.1x40"},
     "alert": "BetguardProviderErrorRateHigh",
     "fires": [{"provider": "down", "severity": "warning"}]},
    {"series": {'betguard_oldest_pending_age_seconds{provider="late"}': "25200+60x40",
                'betguard_oldest_pending_age_seconds{provider="fine"}': "60x40"},
     "alert": "BetguardPendingBetPastDeadline",
     "fires": [{"provider": "late", "severity": "critical"}]},
    {"series": {"betguard_notification_dead_letters": "0x5 1x35"},
     "alert": "BetguardDeadLetters", "fires": [{"severity": "warning"}]},
    {"series": {"betguard_notification_dead_letters": "0x40"},
     "alert": "BetguardDeadLetters", "fires": []},
    # Open, then half-open and open again after every failed trial: it never closes.
    {"series": {BREAKER + '{provider="down",instance="w1"}': "0x5 " + "2 1 " * 17 + "2",
                BREAKER + '{provider="down",instance="w2"}': "0x40",
                # Closes after each short opening: never 10 minutes without closing.
                BREAKER + '{provider="flaky"}': "2 1 0 " * 13 + "0",
                BREAKER + '{provider="fine"}': "0x40"},
     "alert": "BetguardCircuitBreakerOpen",
     "fires": [{"provider": "down", "severity": "warning"}]},
    {"series": {'betguard_open_reviews{reason="refund_rejected"}': "0x2 1x38",
                'betguard_open_reviews{reason="deadline"}': "7x40"},
     "alert": "BetguardRefundRejected",
     "fires": [{"reason": "refund_rejected", "severity": "critical"}]},
    {"series": {'betguard_open_reviews{reason="check_failing"}': "0x20 2x20"},
     "alert": "BetguardChecksFailing",
     "fires": [{"reason": "check_failing", "severity": "warning"}]},
    # Open for long: fires per provider and kind; a difference the automatic check
    # closed within minutes, and kinds at zero, do not.
    {"series": {DIFFERENCES + '{provider="pg",kind="payout_differs"}': "0x10 2x30",
                DIFFERENCES + '{provider="pg",kind="state_differs"}': "0x30 1x3 0x7",
                DIFFERENCES + '{provider="pg",kind="duplicate"}': "0x40",
                DIFFERENCES + '{provider="pp",kind="missing_here"}': "0x40"},
     "alert": "BetguardReconciliationDifferences",
     "fires": [{"provider": "pg", "kind": "payout_differs", "severity": "warning"}]},
    # Pulled every minute, then nothing after 10m; a feed that never succeeded (+Inf);
    # a feed that keeps succeeding never fires.
    {"series": {FEED_AGE + '{provider="pg",feed="history"}': "0+0x10 60+60x30",
                FEED_AGE + '{provider="new",feed="history"}': " ".join(["Inf"] * 41),
                FEED_AGE + '{provider="pp",feed="casino"}': "30x40"},
     "alert": "BetguardFeedStale",
     "fires": [{"provider": "pg", "feed": "history", "severity": "critical"},
               {"provider": "new", "feed": "history", "severity": "critical"}]},
    # Caught up every minute, then stuck; a feed whose copy never caught up (+Inf).
    {"series": {SYNCED_AGE + '{provider="pg",feed="history"}': "0+0x20 60+60x20",
                SYNCED_AGE + '{provider="new",feed="history"}': " ".join(["Inf"] * 41),
                SYNCED_AGE + '{provider="pp",feed="casino"}': "30x40"},
     "alert": "BetguardFeedBehind",
     "fires": [{"provider": "pg", "feed": "history", "severity": "warning"},
               {"provider": "new", "feed": "history", "severity": "warning"}]},
    {"series": {'betguard_games_paused{provider="pg"}': "0x30 3x10",
                'betguard_games_paused{provider="pp"}': "0x40"},
     "alert": "BetguardGamePaused", "fires": [{"provider": "pg", "severity": "warning"}]},
    {"series": {'betguard_games_paused{provider="pg"}': "0x30 1 0x9"},
     "alert": "BetguardGamePaused", "fires": []},
    # The master moved from a to b at 30m; one master all along never fires.
    {"series": {REDIS_MASTER + '{job="api",address="a:6379",via="sentinel betguard"}':
                "1x30 _x10",
                REDIS_MASTER + '{job="api",address="b:6379",via="sentinel betguard"}':
                "_x30 1x10"},
     "alert": "BetguardRedisFailover", "fires": [{"job": "api", "severity": "warning"}]},
    {"series": {REDIS_MASTER + '{job="api",address="a:6379",via="REDIS_URL"}': "1x40"},
     "alert": "BetguardRedisFailover", "fires": []},
    {"series": {DB_SERVER + '{job="api",address="a:5432",role="primary"}': "1x30 _x10",
                DB_SERVER + '{job="api",address="b:5432",role="primary"}': "_x30 1x10"},
     "alert": "BetguardDatabaseFailover", "fires": [{"job": "api", "severity": "warning"}]},
    {"series": {DB_SERVER + '{job="api",address="b:5432",role="standby"}': "1x40"},
     "alert": "BetguardDatabaseOnStandby", "fires": [{"severity": "critical"}]},
    # Commits wait for a standby; it stops streaming at 30m. Without the requirement,
    # no standby is only a lower guarantee, not a hang.
    {"series": {"betguard_database_commits_wait_for_standby": "1x40",
                'betguard_database_standbys{sync_state="sync"}': "1x30 0x10"},
     "alert": "BetguardDatabaseCommitsHang", "fires": [{"severity": "critical"}]},
    {"series": {"betguard_database_commits_wait_for_standby": "0x40",
                'betguard_database_standbys{sync_state="sync"}': "0x40"},
     "alert": "BetguardDatabaseCommitsHang", "fires": []},
    {"series": {'betguard_database_standby_lag_bytes{standby="s1"}': "0x20 100000000x20",
                'betguard_database_standby_lag_bytes{standby="s2"}': "0x40"},
     "alert": "BetguardDatabaseStandbyLagging",
     "fires": [{"standby": "s1", "severity": "warning"}]},
    {"series": {'betguard_redis_replica_lag_bytes{replica="r1:6379"}': "0x20 5000000x20"},
     "alert": "BetguardRedisReplicaLagging",
     "fires": [{"replica": "r1:6379", "severity": "warning"}]},
]


@pytest.mark.skipif(promtool is None, reason="promtool is not installed")
def test_the_alerts_fire_on_the_situations_they_describe_and_only_there(
    tmp_path: Path,
) -> None:
    rules = yaml.safe_load(ALERTS.read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations")  # promtool would compare their rendered text too
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(rules))
    tests = [{"interval": "1m",
              "input_series": [{"series": s, "values": v} for s, v in case["series"].items()],
              "alert_rule_test": [{"eval_time": "35m", "alertname": case["alert"],
                                   "exp_alerts": [{"exp_labels": labels}
                                                  for labels in case["fires"]]}]}
             for case in FIRING_CASES]
    (tmp_path / "test.yml").write_text(yaml.safe_dump(
        {"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": tests}))

    done = subprocess.run([str(promtool), "test", "rules", "test.yml"], cwd=tmp_path,
                          capture_output=True, text=True, check=False)

    assert done.returncode == 0, done.stdout + done.stderr
