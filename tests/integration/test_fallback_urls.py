"""The backup channel: a provider's fallback base URLs serve the calls its primary does
not answer. The ``mirrored`` provider's primary is a closed loopback port; the generic
simulator is its fallback. Refusals and untrusted answers are the provider's word and are
never asked again elsewhere. Real workers, real HTTP on loopback."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from betguard.models.domain.states import BetState
from betguard.providers.base import ProviderStatus
from betguard.providers.client_settings import ProviderClientSettings
from betguard.providers.errors import ProviderInvalidResponse, ProviderRejected, ProviderUnavailable
from betguard.providers.fallback import STICK_SECONDS
from betguard.providers.generic import GenericHttpProvider
from betguard.providers.http import PROVIDER_ERRORS, SignedJsonClient
from tests.integration.harness import Stack, dead_url, wait_until

pytestmark = pytest.mark.integration

PROVIDER = "mirrored"



def register(url: str, **spec: Any) -> str:
    ref = f"fb-{secrets.token_hex(6)}"
    response = requests.post(url + "/_sim/bets", json={
        "bet_ref": ref, "stake": "10.00", "currency": "EUR", **spec}, timeout=10)
    response.raise_for_status()
    return ref


def queue(url: str, ref: str, fault: str, times: int = 1) -> None:
    requests.post(url + "/_sim/faults", json={"bet_ref": ref, "fault": fault, "times": times},
                  timeout=10).raise_for_status()


def requests_for(url: str, ref: str, since: float) -> list[tuple[str, int | None]]:
    """The provider requests about ``ref`` a simulator received since ``since``."""
    log = requests.get(f"{url}/_sim/log", params={"since": since}, timeout=10).json()["requests"]
    return [(entry["path"], entry["status"]) for entry in log if ref in entry["path"]]


def fallbacks_counted(stack: Stack) -> float:
    text = requests.get(f"http://127.0.0.1:{stack.metrics_port}/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "betguard_provider_fallbacks_total" and \
                    sample.labels.get("provider") == PROVIDER:
                return float(sample.value)
    return 0.0


def provider(stack: Stack, base_url: str, fallbacks: list[str]) -> GenericHttpProvider:
    return GenericHttpProvider(ProviderClientSettings(
        name=PROVIDER, base_url=base_url, secret=stack.provider_secret(PROVIDER),
        fallback_urls=tuple(fallbacks), read_timeout=5.0, attempts=2))


# -- end to end ----------------------------------------------------------------------------


def test_bets_of_a_provider_whose_primary_is_down_settle_through_its_fallback(
    stack: Stack,
) -> None:
    before = fallbacks_counted(stack)
    bets = [stack.place(PROVIDER, fate="returned", payout="15.00"),
            stack.place(PROVIDER, fate="delayed", delay=1.0, payout="0.00")]

    settled = [stack.wait_for_state(bet.id, BetState.SETTLED) for bet in bets]

    assert [bet.payout for bet in settled] == [15, 0]
    answers = [event for bet in bets for event in stack.history(bet.id)
               if event.kind == "provider_answered"]
    assert answers and {event.detail.get("via") for event in answers} == {stack.sim_url}
    wait_until(lambda: fallbacks_counted(stack) - before >= len(answers), 30,
               lambda: f"counted {fallbacks_counted(stack) - before} of {len(answers)}")


def test_a_provider_whose_primary_answers_shows_no_via(stack: Stack) -> None:
    bet = stack.place("patient", fate="returned", payout="5.00")
    stack.wait_for_state(bet.id, BetState.SETTLED)
    answers = [e for e in stack.history(bet.id) if e.kind == "provider_answered"]
    assert answers and all("via" not in event.detail for event in answers)


# -- the client, spoken to directly --------------------------------------------------------


def test_a_call_tries_the_base_urls_in_order_until_one_answers(stack: Stack) -> None:
    ref = register(stack.sim_url, fate="never")
    queue(stack.hanging_sim_url, ref, "error_503", times=2)  # both attempts: no answer
    since = time.time() - 0.001

    status = provider(stack, dead_url(), [stack.hanging_sim_url, stack.sim_url]).get_status(ref)

    assert (status.status, status.via) == (ProviderStatus.PENDING, stack.sim_url)
    assert requests_for(stack.hanging_sim_url, ref, since) == [(f"/bets/{ref}", 503)] * 2
    assert requests_for(stack.sim_url, ref, since) == [(f"/bets/{ref}", 200)]


def test_a_refusal_is_not_tried_elsewhere(stack: Stack) -> None:
    ref = register(stack.sim_url, fate="never")
    queue(stack.sim_url, ref, "http_403")
    since = time.time() - 0.001

    with pytest.raises(ProviderRejected, match="403"):
        provider(stack, stack.sim_url, [stack.hanging_sim_url]).get_status(ref)

    assert requests_for(stack.hanging_sim_url, ref, since) == []


def test_an_untrusted_answer_is_not_tried_elsewhere(stack: Stack) -> None:
    ref = register(stack.sim_url, fate="never")
    queue(stack.sim_url, ref, "bad_signature")
    since = time.time() - 0.001

    with pytest.raises(ProviderInvalidResponse):
        provider(stack, stack.sim_url, [stack.hanging_sim_url]).get_status(ref)

    assert requests_for(stack.hanging_sim_url, ref, since) == []


def test_a_call_no_base_url_answers_is_unavailable_naming_each(stack: Stack) -> None:
    first, second = dead_url(), dead_url()
    with pytest.raises(ProviderUnavailable) as raised:
        provider(stack, first, [second]).get_status("fb-nobody")
    assert second in str(raised.value) and "ConnectionError" in str(raised.value)


def test_a_fallback_that_answered_is_tried_first_for_a_while_then_the_primary_again(
    stack: Stack,
) -> None:
    now = [1000.0]
    clock: Callable[[], float] = lambda: now[0]  # noqa: E731 - a clock the test moves
    primary = dead_url()
    client = SignedJsonClient(base_url=primary, fallback_urls=[stack.sim_url],
                              secret=stack.provider_secret(PROVIDER), errors=PROVIDER_ERRORS,
                              clock=clock)
    ref = register(stack.sim_url, fate="never")
    assert client.base_urls() == [primary, stack.sim_url]

    assert client.request("GET", f"/bets/{ref}").via == stack.sim_url

    assert client.base_urls() == [stack.sim_url, primary]
    now[0] += STICK_SECONDS - 1
    assert client.base_urls() == [stack.sim_url, primary]
    now[0] += 1
    assert client.base_urls() == [primary, stack.sim_url]


def test_the_primary_answering_names_no_via(stack: Stack) -> None:
    ref = register(stack.sim_url, fate="never")
    status = provider(stack, stack.sim_url, [stack.hanging_sim_url]).get_status(ref)
    assert (status.status, status.via) == (ProviderStatus.PENDING, None)
