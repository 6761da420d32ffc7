"""When a console session ends, and what its cookie says: pure rules, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from betguard.api.console.guard import ConsoleConfig
from betguard.config.settings import Settings
from betguard.models.store.tables import ConsoleSession
from betguard.services.accounts import SignInRules, _expiry

START = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
RULES = SignInRules(idle=timedelta(minutes=30), absolute=timedelta(hours=12))


def session(last_seen: timedelta) -> ConsoleSession:
    return ConsoleSession(token_sha256="0" * 64, account_id=1, csrf_token="t", address="a",
                          started_at=START, last_seen_at=START + last_seen, ended_at=None)


def test_a_session_used_a_minute_ago_is_alive() -> None:
    assert _expiry(session(timedelta(0)), RULES, START + timedelta(minutes=1)) is None


def test_a_session_idle_for_longer_than_the_idle_time_ends() -> None:
    assert _expiry(session(timedelta(0)), RULES, START + timedelta(minutes=30)) == "idle expiry"


def test_a_session_in_use_all_along_still_ends_at_its_absolute_expiry() -> None:
    busy = session(timedelta(hours=11, minutes=59))
    assert _expiry(busy, RULES, START + timedelta(hours=11, minutes=59, seconds=30)) is None
    assert _expiry(busy, RULES, START + timedelta(hours=12)) == "absolute expiry"


def test_cookies_are_secure_in_production_and_plain_for_a_laptop_demo() -> None:
    assert ConsoleConfig.of(Settings(mode="production")).secure_cookies
    assert not ConsoleConfig.of(Settings(mode="development")).secure_cookies


def test_the_sessions_times_come_from_the_settings() -> None:
    rules = ConsoleConfig.of(Settings(console_idle_minutes=5, console_session_hours=2)).rules
    assert (rules.idle, rules.absolute) == (timedelta(minutes=5), timedelta(hours=2))
