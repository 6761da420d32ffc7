"""docker-compose.yml cannot run here (no Docker engine); this reads it and checks
that it would run betguard as production needs: real entry points, secrets from the
environment, one beat, Flower behind authentication, Redis that keeps its data."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from betguard.cli import main as betguard_cli
from betguard.config.celery import DEFAULT_QUEUE, PROVIDER_QUEUE

COMPOSE = Path(__file__).parents[2] / "docker-compose.yml"
SECRET_NAMES = re.compile(r"PASSWORD|SECRET|AUTH|KEYS", re.IGNORECASE)
REQUIRED_VARIABLE = re.compile(r"^\$\{[A-Z_]+:\?[^}]+\}$")
CELERY_SUBCOMMANDS = {"worker", "beat", "flower"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(compose["services"])


def entry_point_problem(command: list[str]) -> str | None:
    """Why ``command`` would not start a betguard process, or None when it would."""
    program, *args = command
    if program == "betguard":
        name = args[0]
        return None if name in betguard_cli.commands else f"no betguard command {name!r}"
    if program == "celery":
        if args[:2] != ["-A", "betguard.tasks.app"] or args[2] not in CELERY_SUBCOMMANDS:
            return f"unexpected celery command {args}"
        importlib.import_module("betguard.tasks.app")
        queues = args[args.index("-Q") + 1].split(",") if "-Q" in args else []
        unknown = set(queues) - {DEFAULT_QUEUE, PROVIDER_QUEUE}
        return f"unknown queues {unknown}" if unknown else None
    if program == "python" and args[0] == "-m":
        importlib.import_module(args[1] + ".__main__")
        return None
    return f"unknown program {program!r}"


def test_every_service_command_names_a_real_entry_point(compose: dict[str, Any]) -> None:
    commands = {name: s["command"] for name, s in services(compose).items() if "command" in s}
    betguard_commands = {n: c for n, c in commands.items() if n not in ("postgres", "redis")}

    assert betguard_commands.keys() >= {"migrate", "api", "worker-provider", "worker-default",
                                        "beat", "flower", "simulator"}
    problems = {n: entry_point_problem(c) for n, c in betguard_commands.items()}
    assert {n: p for n, p in problems.items() if p} == {}
    assert isinstance(betguard_cli, click.Group)


def test_every_secret_comes_from_the_environment_with_no_default(compose: dict[str, Any]) -> None:
    secrets_seen = {}
    for name, service in services(compose).items():
        for key, value in (service.get("environment") or {}).items():
            if SECRET_NAMES.search(key):
                secrets_seen[f"{name}.{key}"] = value
        for part in service.get("command") or []:
            if "--basic-auth" in str(part):
                secrets_seen[f"{name}.basic-auth"] = str(part).split("=", 1)[1]

    assert len(secrets_seen) >= 6
    assert {k: v for k, v in secrets_seen.items() if not REQUIRED_VARIABLE.match(str(v))} == {}


def test_database_urls_carry_no_password_but_the_environments(compose: dict[str, Any]) -> None:
    for service in services(compose).values():
        url = (service.get("environment") or {}).get("DATABASE_URL")
        if url:
            assert "${POSTGRES_PASSWORD:?" in url


def test_flower_requires_authentication_and_keeps_its_state(compose: dict[str, Any]) -> None:
    flower = services(compose)["flower"]["command"]

    assert any(str(part).startswith("--basic-auth=") for part in flower)
    assert "--persistent=True" in flower
    assert any(str(part).startswith("--db=/var/lib/betguard/") for part in flower)


def test_there_is_exactly_one_beat_and_workers_split_by_queue(compose: dict[str, Any]) -> None:
    all_services = services(compose)
    beats = [n for n, s in all_services.items() if "beat" in (s.get("command") or [])]
    provider = all_services["worker-provider"]["command"]
    default = all_services["worker-default"]["command"]

    assert beats == ["beat"]
    assert all_services["beat"]["deploy"]["replicas"] == 1
    assert provider[provider.index("-Q") + 1] == PROVIDER_QUEUE
    assert provider[provider.index("-P") + 1] == "threads"
    assert default[default.index("-Q") + 1] == DEFAULT_QUEUE
    assert default[default.index("-P") + 1] == "prefork"


def test_postgres_and_redis_keep_their_data_and_report_health(compose: dict[str, Any]) -> None:
    postgres, redis = services(compose)["postgres"], services(compose)["redis"]

    assert "healthcheck" in postgres and "healthcheck" in redis
    assert any("/var/lib/postgresql/data" in v for v in postgres["volumes"])
    assert redis["command"][1:3] == ["--appendonly", "yes"]
    assert "noeviction" in redis["command"]
    assert services(compose)["migrate"]["restart"] == "no"


def test_the_simulator_is_only_in_the_try_profile(compose: dict[str, Any]) -> None:
    profiled = {n for n, s in services(compose).items() if s.get("profiles")}

    assert profiled == {"simulator"}
    assert services(compose)["simulator"]["profiles"] == ["try"]
