"""The operations console in a real browser (headless Chromium) against the real API,
PostgreSQL, Redis, workers and the provider simulator: people sign in, find a stuck bet,
decide it, and four eyes hold; forged forms, viewers and ended sessions change nothing."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.by import By

from betguard_devkit.browser import phone
from tests.e2e.console import new_person, sign_in, submit, wait_for, wait_for_text
from tests.integration.api_server import Api, path_of, running_api
from tests.integration.harness import Stack, bet_payload

BIG = "900.00"  # above the default four-eyes threshold (500)


def in_review(api: Api, stack: Stack, stake: str = "25.00") -> dict[str, Any]:
    bet = api.place(stack, "reviewer", fate="never", stake=stake)
    return dict(api.wait_for_state(bet, "in_review")["bet"])


def state_of(api: Api, bet: dict[str, Any]) -> str:
    return str(api.game("GET", path_of(bet)).json()["bet"]["state"])


def test_an_operator_signs_in_finds_a_stuck_bet_and_resolves_its_review(
        console: Api, stack: Stack, fresh_browser: webdriver.Chrome) -> None:
    bet = in_review(console, stack)
    operator = new_person(stack.context, "operator")
    sign_in(fresh_browser, console.url, operator)
    assert int(wait_for(fresh_browser, "#open-reviews").text) >= 1

    fresh_browser.find_element(By.LINK_TEXT, "Reviews").click()
    fresh_browser.find_element(By.LINK_TEXT, f"reviewer/{bet['bet_ref']}").click()
    wait_for_text(fresh_browser, "#bet-state", "in_review")
    effect = fresh_browser.find_element(By.CSS_SELECTOR, "#decide-refunded .effect").text
    assert "25.00 EUR" in effect and "wallet" in effect

    submit(fresh_browser, "#decide-settled", payout="40.00", note="the provider's back office "
           "shows a win")
    wait_for_text(fresh_browser, "#bet-state", "settled")
    assert "Decision applied." in fresh_browser.page_source
    assert state_of(console, bet) == "settled"
    story = fresh_browser.find_element(By.ID, "story").text
    assert operator.name in story


def test_a_big_refund_needs_a_second_person_and_moves_money_only_on_approval(
        console: Api, stack: Stack, fresh_browser: webdriver.Chrome,
        second_browser: webdriver.Chrome) -> None:
    bet = in_review(console, stack, BIG)
    operator, approver = new_person(stack.context, "operator"), new_person(stack.context,
                                                                           "approver")
    sign_in(fresh_browser, console.url, operator)
    fresh_browser.get(f"{console.url}/console/bets/{bet['id']}")
    assert "four eyes" in fresh_browser.find_element(By.ID, "decide-refunded").text
    submit(fresh_browser, "#decide-refunded", note="the provider lost the round")
    wait_for(fresh_browser, "#open-proposal")
    assert fresh_browser.find_elements(By.ID, "approve-form") == []  # not the proposer's
    assert state_of(console, bet) == "in_review"

    sign_in(second_browser, console.url, approver)
    second_browser.get(f"{console.url}/console/proposals")
    assert f"reviewer/{bet['bet_ref']}" in second_browser.find_element(By.ID, "proposals").text
    second_browser.get(f"{console.url}/console/bets/{bet['id']}")
    submit(second_browser, "#approve-form", note="checked with the provider")
    wait_for_text(second_browser, ".notice", "Approved")
    console.wait_for_state(bet, "refunded")
    second_browser.refresh()
    assert approver.name in second_browser.find_element(By.ID, "story").text


@dataclass
class Forger:
    """Another site, on another port, whose page posts a decision to ``action`` as soon
    as it loads (a cross-site request forgery)."""

    url: str = ""
    action: str = ""


@pytest.fixture
def forger() -> Iterator[Forger]:
    site = Forger()

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            body = (f'<form id="f" method="post" action="{site.action}">'
                    '<input name="resolution" value="refunded">'
                    '<input name="note" value="forged"></form>'
                    '<script>document.getElementById("f").submit()</script>').encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    site.url = f"http://127.0.0.1:{server.server_port}/"
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()


def test_a_forged_form_from_another_site_is_refused_and_changes_nothing(
        console: Api, stack: Stack, fresh_browser: webdriver.Chrome, forger: Forger) -> None:
    bet = in_review(console, stack)
    sign_in(fresh_browser, console.url, new_person(stack.context, "operator"))
    forger.action = f"{console.url}/console/bets/{bet['id']}/decide"
    fresh_browser.get(forger.url)
    refused = wait_for(fresh_browser, "#refused").text
    assert "another site" in refused and "nothing was changed" in refused
    assert state_of(console, bet) == "in_review"


def test_a_form_without_the_sessions_token_is_refused_even_from_this_site(
        console: Api, stack: Stack, fresh_browser: webdriver.Chrome) -> None:
    bet = in_review(console, stack)
    sign_in(fresh_browser, console.url, new_person(stack.context, "operator"))
    fresh_browser.get(f"{console.url}/console/bets/{bet['id']}")
    fresh_browser.execute_script(
        "document.querySelector('#decide-refunded input[name=csrf]').value = 'guessed'")
    submit(fresh_browser, "#decide-refunded", note="with a guessed token")
    assert "security token" in wait_for(fresh_browser, "#refused").text
    assert state_of(console, bet) == "in_review"


def test_a_viewer_reads_a_bet_but_is_refused_a_decision(
        console: Api, stack: Stack, fresh_browser: webdriver.Chrome) -> None:
    bet = in_review(console, stack)
    sign_in(fresh_browser, console.url, new_person(stack.context, "viewer"))
    fresh_browser.get(f"{console.url}/console/bets/{bet['id']}")
    wait_for_text(fresh_browser, "#bet-state", "in_review")
    assert fresh_browser.find_elements(By.ID, "decisions") == []
    # The page offers no form, so the viewer makes one, with their own valid token.
    fresh_browser.execute_script("""
        const form = document.createElement('form');
        form.method = 'post'; form.action = arguments[0];
        for (const [name, value] of [['resolution', 'refunded'], ['note', 'a viewer tries'],
             ['csrf', document.querySelector('form.who input[name=csrf]').value]]) {
          const field = document.createElement('input');
          field.name = name; field.value = value; form.appendChild(field);
        }
        document.body.appendChild(form); form.submit();""",
        f"{console.url}/console/bets/{bet['id']}/decide")
    assert "needs the operator role" in wait_for(fresh_browser, "#refused").text
    assert state_of(console, bet) == "in_review"


def test_text_holding_a_script_is_shown_as_text_and_never_run(
        console: Api, stack: Stack, fresh_browser: webdriver.Chrome) -> None:
    bet = in_review(console, stack)
    hostile = "<script>alert('owned')</script><img src=x onerror=alert(1)>"
    sign_in(fresh_browser, console.url, new_person(stack.context, "operator"))
    fresh_browser.get(f"{console.url}/console/bets/{bet['id']}")
    submit(fresh_browser, "#decide-recheck", note=hostile)
    wait_for(fresh_browser, ".notice")
    fresh_browser.get(f"{console.url}/console/bets/{bet['id']}")
    assert hostile in fresh_browser.find_element(By.ID, "story").text
    with pytest.raises(NoAlertPresentException):
        fresh_browser.switch_to.alert.text  # noqa: B018 - reading it is the check


def test_an_idle_session_ends_and_the_next_page_asks_to_sign_in_again(
        stack: Stack, fresh_browser: webdriver.Chrome) -> None:
    with running_api(stack, log_name="console-idle.log",
                     env={"BETGUARD_CONSOLE_IDLE_MINUTES": "0.05"}) as short:
        sign_in(fresh_browser, short.url, new_person(stack.context, "viewer"))
        time.sleep(4)  # past the 3 s idle expiry of this API
        fresh_browser.get(f"{short.url}/console/reviews")
        wait_for(fresh_browser, "#login")
        assert fresh_browser.current_url.endswith("/console/login?next=/console/reviews")


def test_two_people_deciding_one_review_at_once_one_wins_and_the_other_reads_why(
        console: Api, stack: Stack, fresh_browser: webdriver.Chrome,
        second_browser: webdriver.Chrome) -> None:
    bet = in_review(console, stack)
    for browser in (fresh_browser, second_browser):
        sign_in(browser, console.url, new_person(stack.context, "operator"))
        browser.get(f"{console.url}/console/bets/{bet['id']}")
        wait_for(browser, "#decide-settled")
    submit(fresh_browser, "#decide-settled", payout="12.00", note="first")
    wait_for_text(fresh_browser, "#bet-state", "settled")
    submit(second_browser, "#decide-refunded", note="second, from a stale page")
    assert "has no open review" in wait_for(second_browser, "#error").text
    wait_for_text(second_browser, "#bet-state", "settled")  # the page shows the bet as it is
    assert state_of(console, bet) == "settled"


def test_a_bulk_recheck_started_in_the_console_shows_its_progress_live(
        console: Api, stack: Stack, fresh_browser: webdriver.Chrome) -> None:
    bets = [stack.place("sleepy", fate="returned", payout="1.00") for _ in range(3)]
    sign_in(fresh_browser, console.url, new_person(stack.context, "operator"))
    fresh_browser.get(f"{console.url}/console/bulk")
    fresh_browser.find_element(By.CSS_SELECTOR, "#bulk-form select[name=provider]") \
        .send_keys("sleepy")
    # The form takes whole seconds: from the first bet's second to the one after the last's
    first = bets[0].placed_at.replace(microsecond=0)
    last = bets[-1].placed_at.replace(microsecond=0) + timedelta(seconds=1)
    for name, moment in (("placed_from", first), ("placed_to", last)):
        fresh_browser.execute_script(
            "document.querySelector(arguments[0]).value = arguments[1]",
            f"#bulk-form input[name={name}]", moment.strftime("%Y-%m-%dT%H:%M:%S"))
    submit(fresh_browser, "#bulk-form", note="after the outage")
    wait_for_text(fresh_browser, ".notice", "Bulk re-check started")
    wait_for_text(fresh_browser, "#job-list", "3 / 3 checked")  # refreshed without a reload


def test_the_overview_counts_a_new_review_without_a_reload(
        console: Api, stack: Stack, fresh_browser: webdriver.Chrome) -> None:
    sign_in(fresh_browser, console.url, new_person(stack.context, "viewer"))
    fresh_browser.get(f"{console.url}/console")
    before = int(wait_for(fresh_browser, "#open-reviews").text)
    fresh_browser.execute_script("document.body.dataset.loadedOnce = 'yes'")
    in_review(console, stack)
    wait_for_text(fresh_browser, "#open-reviews", str(before + 1))
    assert fresh_browser.execute_script("return document.body.dataset.loadedOnce") == "yes"


def test_the_pages_read_on_a_phone(console: Api, stack: Stack,
                                   fresh_browser: webdriver.Chrome) -> None:
    ref = f"long-{secrets.token_hex(50)}"  # 105 characters without a space to break at
    stack.sim("POST", "/_sim/bets", {"bet_ref": ref, "stake": "10.00", "currency": "EUR",
                                     "fate": "never"})
    placed = console.game("POST", "/bets", json=bet_payload("reviewer", ref))
    assert placed.status_code == 201, placed.text
    bet = console.wait_for_state(placed.json()["bet"], "in_review")["bet"]
    sign_in(fresh_browser, console.url, new_person(stack.context, "operator"))
    phone(fresh_browser)
    fresh_browser.get(f"{console.url}/console/bets/{bet['id']}")
    wait_for(fresh_browser, "#decide-refunded")
    wide = fresh_browser.execute_script(
        "return document.documentElement.scrollWidth > window.innerWidth + 1")
    assert wide is False  # nothing sticks out sideways: the forms stack up
