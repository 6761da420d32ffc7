"""Per-provider policies: a broken file fails at start-up naming the provider and the key."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from betguard.config.policies import (
    Escalation,
    PolicyError,
    ProviderPolicy,
    load_policies,
    parse_policies,
)

GOOD_FILE = """
[providers.acme]
base_url = "https://acme.test/api"
supports_batch = true
first_check_delay = 5
backoff_base = 4
backoff_factor = 3
backoff_cap = 600
jitter = 0.5
deadline = 900
escalation = "refund_up_to"
refund_limit = "500.00"

[providers.beta]
base_url = "http://beta.test"
"""


def parse_one(**table: Any) -> ProviderPolicy:
    return parse_policies({"providers": {"acme": {"base_url": "http://acme.test", **table}}})[
        "acme"
    ]


def refusal(**table: Any) -> str:
    with pytest.raises(PolicyError) as refused:
        parse_one(**table)
    return str(refused.value)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policies.toml"
    path.write_text(text, encoding="utf-8")
    return path


# --- a good file --------------------------------------------------------------


def test_a_policy_file_gives_one_policy_per_provider_with_its_values(tmp_path: Path) -> None:
    policies = load_policies(write(tmp_path, GOOD_FILE))
    acme = policies["acme"]
    assert sorted(policies) == ["acme", "beta"]
    assert acme.name == "acme"
    assert str(acme.base_url) == "https://acme.test/api"
    assert acme.supports_batch is True
    assert (acme.first_check_delay, acme.backoff_base, acme.backoff_factor) == (5, 4, 3)
    assert (acme.backoff_cap, acme.jitter, acme.deadline) == (600, 0.5, 900)
    assert acme.escalation is Escalation.REFUND_UP_TO
    assert acme.refund_limit == Decimal("500.00")


def test_a_provider_that_names_only_its_url_gets_the_safe_defaults(tmp_path: Path) -> None:
    beta = load_policies(write(tmp_path, GOOD_FILE))["beta"]
    assert beta.escalation is Escalation.REVIEW
    assert beta.refund_limit is None
    assert beta.adapter == "generic"
    assert beta.supports_batch is False
    assert (beta.backoff_base, beta.backoff_factor, beta.backoff_cap) == (30.0, 2.0, 1800.0)
    assert beta.deadline == 6 * 3600.0


def test_a_loaded_policy_cannot_be_changed_afterwards(tmp_path: Path) -> None:
    acme = load_policies(write(tmp_path, GOOD_FILE))["acme"]
    with pytest.raises(ValidationError):
        acme.deadline = 1.0


# --- bad values name the provider and the key -----------------------------------


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("backoff_factor", 0.5),
        ("backoff_base", 0),
        ("backoff_cap", -1),
        ("first_check_delay", 0),
        ("jitter", 1.5),
        ("jitter", -0.1),
        ("deadline", 0),
        ("escalation", "refund_maybe"),
        ("refund_limit", "-1"),
        ("http_attempts", 0),
        ("http_attempts", 11),
        ("connect_timeout", 0),
        ("base_url", "not a url"),
        ("supports_batch", "perhaps"),
    ],
)
def test_a_bad_value_is_refused_naming_the_provider_and_the_key(key: str, value: object) -> None:
    assert f"providers.acme.{key}:" in refusal(**{key: value})


def test_an_unknown_key_is_refused_by_name() -> None:
    assert "providers.acme.backof_factor: Extra inputs are not permitted" in refusal(
        backof_factor=2
    )


def test_a_provider_without_a_base_url_is_refused() -> None:
    with pytest.raises(PolicyError, match=r"providers\.acme\.base_url: Field required"):
        parse_policies({"providers": {"acme": {}}})


def test_every_bad_key_of_a_provider_is_named_at_once() -> None:
    message = refusal(jitter=2, deadline=-5)
    assert "providers.acme.jitter" in message
    assert "providers.acme.deadline" in message


def test_only_the_broken_provider_is_named() -> None:
    tables = {
        "acme": {"base_url": "http://acme.test"},
        "beta": {"base_url": "http://beta.test", "jitter": 3},
    }
    with pytest.raises(PolicyError) as refused:
        parse_policies({"providers": tables})
    assert "providers.beta.jitter" in str(refused.value)
    assert "providers.acme" not in str(refused.value)


def test_refund_up_to_without_a_refund_limit_is_refused() -> None:
    assert "refund_up_to' needs refund_limit" in refusal(escalation="refund_up_to")


def test_a_cap_below_the_base_is_refused() -> None:
    assert "backoff_cap must not be below backoff_base" in refusal(backoff_base=60, backoff_cap=30)


@pytest.mark.parametrize("name", ["Acme", "acme corp", "-acme", "a" * 65])
def test_a_provider_name_outside_lowercase_letters_digits_dashes_is_refused(name: str) -> None:
    with pytest.raises(PolicyError, match=rf"providers\.{name}\.name"):
        parse_policies({"providers": {name: {"base_url": "http://acme.test"}}})


def test_a_provider_entry_that_is_not_a_table_is_refused() -> None:
    with pytest.raises(PolicyError, match=r"providers\.acme must be a table"):
        parse_policies({"providers": {"acme": "http://acme.test"}})


@pytest.mark.parametrize("document", [{}, {"providers": {}}, {"providers": ["acme"]}])
def test_a_document_without_providers_is_refused(document: dict[str, object]) -> None:
    with pytest.raises(PolicyError, match=r"no \[providers.<name>\] table"):
        parse_policies(document)


def test_the_refusal_keeps_the_validation_error_as_its_cause() -> None:
    with pytest.raises(PolicyError) as refused:
        parse_one(jitter=9)
    assert isinstance(refused.value.__cause__, ValidationError)


def test_a_table_cannot_rename_its_provider() -> None:
    with pytest.raises(PolicyError):
        parse_policies({"providers": {"Acme Corp": {"base_url": "http://a.test", "name": "x"}}})


# --- the file itself ---------------------------------------------------------------


def test_a_missing_policy_file_is_a_policy_error_naming_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    with pytest.raises(PolicyError, match="policy file not found") as refused:
        load_policies(missing)
    assert str(missing) in str(refused.value)


def test_a_file_that_is_not_toml_is_a_policy_error_naming_the_path(tmp_path: Path) -> None:
    path = write(tmp_path, "[providers.acme\nbase_url = ")
    with pytest.raises(PolicyError, match="not valid TOML") as refused:
        load_policies(path)
    assert str(path) in str(refused.value)


def test_a_bad_key_in_a_file_names_the_file_the_provider_and_the_key(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD_FILE.replace("backoff_factor = 3", "backoff_factor = 0.5"))
    with pytest.raises(PolicyError) as refused:
        load_policies(path)
    assert str(refused.value).startswith(f"{path}: providers.acme.backoff_factor:")


@pytest.mark.parametrize("kind", ["not-utf8", "directory"])
def test_an_unreadable_policy_file_is_a_policy_error(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "policies.toml"
    if kind == "directory":
        path.mkdir()
    else:
        path.write_bytes(b'[providers.acme]\nbase_url = "http://acme.test/\xff"\n')
    with pytest.raises(PolicyError):
        load_policies(path)
