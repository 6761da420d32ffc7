"""Redis through Sentinel, as the settings name it: the sentinels' list read strictly,
one way to Redis at a time, and the URL and options kombu and Celery are given."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from betguard.config.celery import celery_config
from betguard.config.redis_target import SentinelTarget, parse_sentinels
from betguard.config.settings import Settings

SENTINELS = "10.0.0.5:26379,10.0.0.6:26379,10.0.0.7:26380"

pytestmark = pytest.mark.usefixtures("clean_environment")


def through_sentinel(**changes: Any) -> Settings:
    options: dict[str, Any] = {"redis_sentinels": SENTINELS, "redis_master_name": "betguard",
                               "redis_password": "p@ss/word", "redis_sentinel_password": "s3nt",
                               **changes}
    return Settings(**options)


def test_the_sentinels_are_read_as_hosts_and_ports_in_order() -> None:
    assert parse_sentinels(" 10.0.0.5:26379, sentinel-b.internal:26380,[::1]:26381") == (
        ("10.0.0.5", 26379), ("sentinel-b.internal", 26380), ("::1", 26381))


@pytest.mark.parametrize(("text", "named"), [
    ("10.0.0.5", "'10.0.0.5' is not host:port"),
    ("10.0.0.5:26379,", "'' is not host:port"),
    (":26379", "':26379' is not host:port"),
    ("10.0.0.5:http", "'10.0.0.5:http' is not host:port"),
    ("10.0.0.5:70000", "port 70000"),
    ("10.0.0.5:26379,10.0.0.5:26379", "listed twice"),
])
def test_a_bad_sentinel_list_is_refused_naming_the_setting_and_the_entry(
    text: str, named: str,
) -> None:
    with pytest.raises(ValueError, match="BETGUARD_REDIS_SENTINELS") as refused:
        parse_sentinels(text)
    assert named in str(refused.value)
    with pytest.raises(ValidationError, match="BETGUARD_REDIS_SENTINELS"):
        through_sentinel(redis_sentinels=text)


def test_sentinels_without_a_master_name_or_beside_redis_url_are_refused() -> None:
    with pytest.raises(ValidationError, match="BETGUARD_REDIS_MASTER_NAME is not"):
        through_sentinel(redis_master_name=None)
    with pytest.raises(ValidationError, match="not both"):
        through_sentinel(redis_url="redis://redis.test:6379/0")
    with pytest.raises(ValidationError, match="BETGUARD_REDIS_SENTINELS is not"):
        Settings(redis_master_name="betguard")


def test_the_environment_names_the_sentinels(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BETGUARD_REDIS_SENTINELS", SENTINELS)
    monkeypatch.setenv("BETGUARD_REDIS_MASTER_NAME", "main")
    monkeypatch.setenv("BETGUARD_REDIS_PASSWORD", "pw")

    target = Settings().sentinel

    assert target is not None and (target.master_name, target.password) == ("main", "pw")
    assert len(target.sentinels) == 3 and target.sentinel_password is None


def test_the_broker_url_names_every_sentinel_with_the_redis_password_quoted() -> None:
    url = through_sentinel().broker_url

    assert url.split(";") == [f"sentinel://:p%40ss%2Fword@{address}/0"
                              for address in SENTINELS.split(",")]


def test_kombu_and_celery_get_the_master_name_and_the_sentinels_password_and_timeouts(
) -> None:
    config = celery_config(through_sentinel())

    for options in (config["broker_transport_options"],
                    config["result_backend_transport_options"]):
        assert options["master_name"] == "betguard"
        assert options["sentinel_kwargs"]["password"] == "s3nt"
        assert options["sentinel_kwargs"]["socket_timeout"] > 0
        assert options["sentinel_kwargs"]["socket_connect_timeout"] > 0
    assert config["broker_transport"] == "betguard.messaging.transport:SentinelTransport"
    assert config["result_backend"] == config["broker_url"]


def test_without_a_sentinel_password_the_sentinels_still_get_timeouts() -> None:
    target = SentinelTarget((("h", 1),), "m")

    assert target.sentinel_kwargs(connect_timeout=2, socket_timeout=3) == {
        "socket_connect_timeout": 2, "socket_timeout": 3}
    assert target.kombu_url() == "sentinel://h:1/0"


def test_no_password_shows_where_the_target_is_described() -> None:
    shown = through_sentinel().sentinel
    assert shown is not None
    assert "p@ss" not in shown.describe() and "s3nt" not in shown.describe()
    assert "'betguard'" in shown.describe() and "10.0.0.6:26379" in shown.describe()



def test_a_worker_that_fails_over_to_the_next_sentinel_keeps_betguards_channel() -> None:
    from kombu import Connection

    from betguard.messaging import app  # noqa: F401  (registers the alias)
    from betguard.messaging.transport import SentinelTransport

    connection = Connection("sentinel://h-1:26379;sentinel://h-2:26379",
                            transport="betguard.messaging.transport:SentinelTransport")
    connection.switch("sentinel://h-2:26379")  # what kombu does when h-1 fails

    assert connection.transport_cls != "betguard.messaging.transport:SentinelTransport"
    assert isinstance(connection.transport, SentinelTransport)
