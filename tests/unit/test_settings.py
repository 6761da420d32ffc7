"""Settings: one object, read from the environment, checked at start-up.

Production mode refuses what would be unsafe: missing, placeholder or short
secrets, SQLite, no Redis, plain http:// to a provider, the wallet or the game server.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from betguard.config.policies import PolicyError
from betguard.config.settings import PLACEHOLDER_SECRETS, Settings, SettingsError, database_hosts

STRONG = "s3cr3t-0123456789abcdef"
POLICIES = """
[providers.acme]
base_url = "https://acme.test"

[providers.beta]
base_url = "https://beta.test/api"
"""
LOOPBACK_POLICIES = POLICIES.replace("https://acme.test", "http://127.0.0.1:8100")

pytestmark = pytest.mark.usefixtures("clean_environment")


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policies.toml"
    path.write_text(POLICIES, encoding="utf-8")
    return path


def production(policy_file: Path, **changes: Any) -> Settings:
    options: dict[str, Any] = {
        "mode": "production",
        "database_url": "postgresql+psycopg://betguard@db.test/betguard",
        "redis_url": "redis://redis.test:6379/3",
        "policy_file": policy_file,
        "provider_secrets": {"acme": STRONG, "beta": STRONG[::-1]},
        "wallet_secret": STRONG.upper(),
        "wallet_url": "https://wallet.test/v1",
        "notify_url": "https://game.test/notifications",
        "notify_secret": STRONG.lower() + "-notify",
        **changes,
    }
    return Settings(**options)


def development(policy_file: Path, **changes: Any) -> Settings:
    options: dict[str, Any] = {
        "policy_file": policy_file,
        "provider_secrets": {"acme": "dev", "beta": "dev"},
        "wallet_secret": "dev",
        **changes,
    }
    return Settings(**options)


# --- what starts ----------------------------------------------------------------


def test_a_complete_production_configuration_starts(policy_file: Path) -> None:
    production(policy_file).validate_for_start()


def test_development_mode_starts_with_placeholder_secrets_sqlite_and_no_redis(
    policy_file: Path,
) -> None:
    settings = development(policy_file)
    assert settings.mode == "development"
    assert settings.database_url.startswith("sqlite")
    settings.validate_for_start()


def test_the_environment_configures_a_production_start(
    policy_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BETGUARD_MODE", "production")
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://betguard@db.test/betguard")
    monkeypatch.setenv("REDIS_URL", "redis://redis.test:6379/3")
    monkeypatch.setenv("BETGUARD_POLICY_FILE", str(policy_file))
    monkeypatch.setenv("BETGUARD_PROVIDER_SECRETS", json.dumps({"acme": STRONG, "beta": STRONG}))
    monkeypatch.setenv("BETGUARD_WALLET_SECRET", STRONG)
    monkeypatch.setenv("BETGUARD_WALLET_URL", "https://wallet.test")
    settings = Settings()
    settings.validate_for_start()
    assert settings.provider_secret("beta") == STRONG
    assert settings.broker_url == "redis://redis.test:6379/3"


def test_a_secret_of_sixteen_characters_is_long_enough(policy_file: Path) -> None:
    production(policy_file, wallet_secret="x" * 16).validate_for_start()


def test_secrets_do_not_show_in_the_settings_representation(policy_file: Path) -> None:
    shown = repr(production(policy_file)) + str(production(policy_file).model_dump())
    assert STRONG not in shown
    assert STRONG.upper() not in shown


# --- what every mode refuses ---------------------------------------------------------


@pytest.mark.parametrize("mode", ["development", "production"])
def test_a_provider_without_a_secret_is_refused_by_name(policy_file: Path, mode: str) -> None:
    settings = production(policy_file, mode=mode, provider_secrets={"acme": STRONG})
    with pytest.raises(SettingsError, match="no secret for provider 'beta'"):
        settings.validate_for_start()


@pytest.mark.parametrize("mode", ["development", "production"])
def test_a_missing_wallet_secret_is_refused(policy_file: Path, mode: str) -> None:
    settings = production(policy_file, mode=mode, wallet_secret=None)
    with pytest.raises(SettingsError, match="BETGUARD_WALLET_SECRET"):
        settings.validate_for_start()


def test_a_broken_policy_file_stops_the_start(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text('[providers.acme]\nbase_url = "http://acme.test"\njitter = 3\n')
    with pytest.raises(PolicyError, match=r"providers\.acme\.jitter"):
        development(broken).validate_for_start()


def test_a_missing_policy_file_stops_the_start(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="policy file not found"):
        development(tmp_path / "absent.toml").validate_for_start()


def test_a_countdown_near_the_visibility_timeout_is_refused() -> None:
    with pytest.raises(ValidationError, match="max_countdown"):
        Settings(visibility_timeout=600, max_countdown=301)


def test_asking_for_the_broker_without_redis_url_says_how_to_fix_it() -> None:
    with pytest.raises(SettingsError, match="REDIS_URL is not set"):
        _ = Settings().broker_url


# --- what production mode refuses ---------------------------------------------------


@pytest.mark.parametrize("placeholder", sorted(PLACEHOLDER_SECRETS))
def test_production_refuses_a_placeholder_provider_secret(
    policy_file: Path, placeholder: str
) -> None:
    settings = production(policy_file, provider_secrets={"acme": STRONG, "beta": placeholder})
    with pytest.raises(SettingsError, match="placeholder provider secret 'beta'"):
        settings.validate_for_start()


@pytest.mark.parametrize("placeholder", sorted(PLACEHOLDER_SECRETS))
def test_production_refuses_a_placeholder_wallet_secret(
    policy_file: Path, placeholder: str
) -> None:
    with pytest.raises(SettingsError, match="placeholder wallet secret"):
        production(policy_file, wallet_secret=placeholder).validate_for_start()


def test_production_refuses_a_placeholder_padded_to_look_long(policy_file: Path) -> None:
    padded = "  CHANGE-ME          "
    with pytest.raises(SettingsError, match="placeholder wallet secret"):
        production(policy_file, wallet_secret=padded).validate_for_start()


def test_production_refuses_a_secret_shorter_than_sixteen_characters(policy_file: Path) -> None:
    settings = production(policy_file, provider_secrets={"acme": "x" * 15, "beta": STRONG})
    with pytest.raises(SettingsError, match="provider secret 'acme'"):
        settings.validate_for_start()


@pytest.mark.parametrize(
    "url", ["sqlite:///var/betguard.db", "sqlite+pysqlite:///:memory:", "sqlite://"]
)
def test_production_refuses_sqlite(policy_file: Path, url: str) -> None:
    with pytest.raises(SettingsError, match="PostgreSQL"):
        production(policy_file, database_url=url).validate_for_start()


def test_production_refuses_the_default_database(policy_file: Path) -> None:
    settings = Settings(
        mode="production",
        redis_url="redis://redis.test:6379/3",
        policy_file=policy_file,
        provider_secrets={"acme": SecretStr(STRONG), "beta": SecretStr(STRONG)},
        wallet_secret=SecretStr(STRONG),
    )
    with pytest.raises(SettingsError, match="PostgreSQL"):
        settings.validate_for_start()


def test_production_refuses_to_start_without_redis(policy_file: Path) -> None:
    with pytest.raises(SettingsError, match="production mode needs REDIS_URL"):
        production(policy_file, redis_url=None).validate_for_start()


def test_production_starts_through_sentinels_and_refuses_a_single_one(
    policy_file: Path,
) -> None:
    sentinels = {"redis_url": None, "redis_master_name": "betguard",
                 "redis_sentinels": "10.0.0.5:26379,10.0.0.6:26379,10.0.0.7:26379"}
    production(policy_file, **sentinels).validate_for_start()
    alone = production(policy_file, **sentinels | {"redis_sentinels": "10.0.0.5:26379"})
    with pytest.raises(SettingsError, match="BETGUARD_REDIS_SENTINELS to list at least two"):
        alone.validate_for_start()


@pytest.mark.parametrize("placeholder", sorted(PLACEHOLDER_SECRETS))
def test_production_refuses_a_placeholder_notification_secret(
    policy_file: Path, placeholder: str
) -> None:
    settings = production(policy_file, notify_secret=placeholder)
    with pytest.raises(SettingsError, match=r"placeholder notification secret \(BETGUARD_NOTIFY"):
        settings.validate_for_start()


def test_production_refuses_a_short_notification_secret(policy_file: Path) -> None:
    with pytest.raises(SettingsError, match="placeholder notification secret"):
        production(policy_file, notify_secret="x" * 15).validate_for_start()


@pytest.mark.parametrize("mode", ["development", "production"])
def test_a_notify_url_without_a_notify_secret_is_refused(policy_file: Path, mode: str) -> None:
    settings = production(policy_file, mode=mode, notify_secret=None)
    with pytest.raises(SettingsError, match="BETGUARD_NOTIFY_SECRET is not"):
        settings.validate_for_start()


def test_production_starts_without_notifications(policy_file: Path) -> None:
    production(policy_file, notify_url=None, notify_secret=None).validate_for_start()


@pytest.mark.parametrize(
    "base_url",
    ["http://127.0.0.1:8100", "http://acme.test/api", "HTTP://acme.test"],
)
def test_production_refuses_a_provider_base_url_without_https_naming_the_provider(
    tmp_path: Path, base_url: str
) -> None:
    path = tmp_path / "policies.toml"
    path.write_text(POLICIES.replace("https://beta.test/api", base_url), encoding="utf-8")
    with pytest.raises(SettingsError, match="needs https: the provider 'beta' base_url"):
        production(path).validate_for_start()


@pytest.mark.parametrize(
    "url", ["http://wallet.test", "http://127.0.0.1:8100", "wallet.test:443", "https://"]
)
def test_production_refuses_a_wallet_url_without_https(policy_file: Path, url: str) -> None:
    with pytest.raises(SettingsError, match=r"needs https: the wallet URL \(BETGUARD_WALLET_URL"):
        production(policy_file, wallet_url=url).validate_for_start()


def test_production_refuses_the_default_wallet_url(policy_file: Path) -> None:
    default = Settings.model_fields["wallet_url"].default
    with pytest.raises(SettingsError, match="wallet URL"):
        production(policy_file, wallet_url=default).validate_for_start()


def test_production_refuses_a_notify_url_without_https(policy_file: Path) -> None:
    settings = production(policy_file, notify_url="http://game.test/notifications")
    with pytest.raises(SettingsError, match=r"needs https: the notification URL \(BETGUARD_NOTIFY"):
        settings.validate_for_start()


def test_the_https_refusal_never_shows_credentials_in_the_url(policy_file: Path) -> None:
    settings = production(policy_file, wallet_url="http://user:hunter2@wallet.test")
    with pytest.raises(SettingsError) as refused:
        settings.validate_for_start()
    assert "hunter2" not in str(refused.value)


def test_development_accepts_http_to_loopback_everywhere(tmp_path: Path) -> None:
    path = tmp_path / "policies.toml"
    path.write_text(LOOPBACK_POLICIES, encoding="utf-8")
    development(path, wallet_url="http://127.0.0.1:8100",
                notify_url="http://127.0.0.1:8200/notifications",
                notify_secret="dev").validate_for_start()


@pytest.mark.parametrize(("url", "hosts"), [
    ("postgresql+psycopg://bg@db-a:5432/betguard", ["db-a:5432"]),
    ("postgresql://bg@db-a:5432,db-b:5432/betguard", ["db-a:5432", "db-b:5432"]),
    ("postgresql+psycopg://bg@/betguard?host=db-a:5432&host=db-b:5432", ["db-a:5432",
                                                                        "db-b:5432"]),
    ("sqlite:///var/betguard.db", []),
])
def test_the_servers_a_database_url_names_are_read_from_both_forms(url: str,
                                                                   hosts: list[str]) -> None:
    assert database_hosts(url) == hosts


@pytest.mark.parametrize("url", [
    "postgresql://bg@db-a:5432,db-b:5432/betguard",
    "postgresql+psycopg://bg@/betguard?host=db-a:5432&host=db-b:5432",
    "postgresql+psycopg://bg@/betguard?host=db-a&host=db-b&target_session_attrs=any",
])
def test_a_url_of_several_servers_must_ask_for_the_one_that_takes_writes(url: str) -> None:
    with pytest.raises(ValidationError, match="DATABASE_URL lists 2 servers but not "
                                              "target_session_attrs=read-write"):
        Settings(database_url=url)


@pytest.mark.parametrize("attrs", ["read-write", "primary"])
def test_a_url_of_several_servers_that_asks_for_the_primary_is_taken(attrs: str) -> None:
    url = f"postgresql+psycopg://bg@/betguard?host=db-a&host=db-b&target_session_attrs={attrs}"
    assert Settings(database_url=url).database_url == url
