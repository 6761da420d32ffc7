"""The console over plain HTTP against the real API: its security headers, the sign-in
rules (CSRF on the form, lock-out, an access log), pages a role may not see, a bad
filter that names its field, and the single-sign-on proxy mode."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from datetime import timedelta

import pytest
import requests

from betguard.models.domain.states import BetState
from betguard.models.store.tables import AccessEvent
from betguard.services import bulk_rechecks
from betguard.services.results import report_result
from tests.e2e.console import Person, form_token, new_person, signed_in
from tests.integration.api_server import Api, running_api
from tests.integration.harness import Stack, wait_until
from tests.integration.ops import REFUNDER, rejected_refund


def _log_of(stack: Stack, name: str) -> list[tuple[str, str]]:
    with stack.context.db.unit_of_work() as session:
        rows = session.query(AccessEvent).filter(AccessEvent.account == name) \
            .order_by(AccessEvent.id).all()
        return [(row.action, row.detail.get("why", "")) for row in rows]


def test_every_console_page_carries_the_security_headers_and_is_never_cached(
        api: Api, stack: Stack) -> None:
    browser = signed_in(api.url, new_person(stack.context, "viewer"))
    for path in ("/console", "/console/reviews", "/console/bets", "/console/login"):
        answer = browser.get(f"{api.url}{path}", timeout=10)
        assert answer.status_code == 200, (path, answer.text[:300])
        csp = answer.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp
        assert answer.headers["X-Frame-Options"] == "DENY"
        assert answer.headers["Cache-Control"] == "no-store"
        assert "<script>" not in answer.text  # only the app's own script file


def test_the_session_cookie_is_http_only_and_same_site_lax(api: Api, stack: Stack) -> None:
    person = new_person(stack.context, "viewer")
    form = requests.get(f"{api.url}/console/login", timeout=10)
    answer = requests.post(f"{api.url}/console/login", allow_redirects=False, timeout=10,
                           cookies=form.cookies,
                           data={"csrf": form_token(form.text), "name": person.name,
                                 "password": person.password})
    cookie = next(h for h in answer.raw.headers.getlist("set-cookie")
                  if h.startswith("betguard_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/console" in cookie


def test_a_sign_in_without_the_forms_token_is_refused(api: Api, stack: Stack) -> None:
    person = new_person(stack.context, "viewer")
    answer = requests.post(f"{api.url}/console/login", allow_redirects=False, timeout=10,
                           data={"name": person.name, "password": person.password})
    assert answer.status_code == 403 and "security token" in answer.text
    assert "betguard_session" not in answer.cookies


def test_wrong_passwords_lock_the_account_and_every_attempt_is_logged(
        api: Api, stack: Stack) -> None:
    person = new_person(stack.context, "operator")
    browser = requests.Session()
    for _ in range(5):
        form = browser.get(f"{api.url}/console/login", timeout=10)
        answer = browser.post(f"{api.url}/console/login", timeout=10,
                              data={"csrf": form_token(form.text), "name": person.name,
                                    "password": "not the password"})
        assert answer.status_code == 401 and "wrong name or password" in answer.text
    form = browser.get(f"{api.url}/console/login", timeout=10)
    locked = browser.post(f"{api.url}/console/login", timeout=10,
                          data={"csrf": form_token(form.text), "name": person.name,
                                "password": person.password})
    assert locked.status_code == 429 and "locked" in locked.text
    assert _log_of(stack, person.name)[-6:] == [("sign_in_refused", "wrong password")] * 5 + [
        ("sign_in_refused", "account locked")]


def test_a_viewer_is_refused_the_access_log_and_an_admin_reads_it(
        api: Api, stack: Stack) -> None:
    viewer = new_person(stack.context, "viewer")
    refused = signed_in(api.url, viewer).get(f"{api.url}/console/access", timeout=10)
    assert refused.status_code == 403 and "needs the admin role" in refused.text
    admin = signed_in(api.url, new_person(stack.context, "admin"))
    page = admin.get(f"{api.url}/console/access?account={viewer.name}", timeout=10)
    assert page.status_code == 200 and "signed_in" in page.text


def test_a_page_without_a_session_sends_the_person_to_sign_in(api: Api) -> None:
    answer = requests.get(f"{api.url}/console/bets", allow_redirects=False, timeout=10)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/login?next=/console/bets"


def test_a_bad_filter_is_refused_naming_its_field(api: Api, stack: Stack) -> None:
    browser = signed_in(api.url, new_person(stack.context, "viewer"))
    answer = browser.get(f"{api.url}/console/reviews?min_amount=lots", timeout=10)
    assert answer.status_code == 422 and "min_amount: &#39;lots&#39; is not an amount" in \
        answer.text
    answer = browser.get(f"{api.url}/console/bets?placed_from=yesterday", timeout=10)
    assert answer.status_code == 422 and "placed_from:" in answer.text


def test_a_sign_in_never_sends_anyone_to_another_site(api: Api, stack: Stack) -> None:
    person = new_person(stack.context, "viewer")
    browser = requests.Session()
    form = browser.get(f"{api.url}/console/login", timeout=10)
    answer = browser.post(f"{api.url}/console/login", allow_redirects=False, timeout=10,
                          data={"csrf": form_token(form.text), "name": person.name,
                                "password": person.password, "next": "//evil.example/"})
    assert answer.headers["location"] == "/console"


@pytest.fixture(scope="module")
def behind_sso(stack: Stack) -> Iterator[Api]:
    with running_api(stack, log_name="console-sso.log",
                     env={"BETGUARD_CONSOLE_FORWARDED_USER_HEADER": "X-Forwarded-User",
                          "BETGUARD_CONSOLE_SECRET": secrets.token_urlsafe(24)}) as api:
        yield api


def test_behind_a_sign_on_proxy_the_header_names_the_account(
        behind_sso: Api, stack: Stack) -> None:
    person = new_person(stack.context, "operator")
    page = requests.get(f"{behind_sso.url}/console", timeout=10,
                        headers={"X-Forwarded-User": person.name})
    assert page.status_code == 200 and f"{person.name} · operator" in page.text
    stranger = requests.get(f"{behind_sso.url}/console", timeout=10,
                            headers={"X-Forwarded-User": "nobody-here"})
    assert stranger.status_code == 403 and "no active account" in stranger.text


def _decide(api: Api, browser: requests.Session, bet_id: int,
            **fields: str) -> requests.Response:
    page_url = f"{api.url}/console/bets/{bet_id}"
    token = form_token(browser.get(page_url, timeout=10).text)
    return browser.post(f"{page_url}/decide", timeout=10, data={"csrf": token, **fields})


def test_a_refund_the_wallet_refused_offers_retry_and_refunded_outside_and_takes_them(
        api: Api, stack: Stack) -> None:
    browser = signed_in(api.url, new_person(stack.context, "operator"))
    bet = rejected_refund(stack, for_good=True)
    page = browser.get(f"{api.url}/console/bets/{bet.id}", timeout=10).text
    assert 'id="decide-retry_refund"' in page and 'id="decide-refunded_outside"' in page
    assert 'id="decide-refunded"' not in page  # a refund is decided already
    missing = _decide(api, browser, bet.id, resolution="refunded_outside", note="paid by bank")
    assert missing.status_code == 422 and "reference: must not be empty" in missing.text
    done = _decide(api, browser, bet.id, resolution="refunded_outside", note="paid by bank",
                   reference="bank-transfer-4711")
    assert done.status_code == 200 and "Decision applied." in done.text
    assert stack.bet(bet.id).state is BetState.REFUNDED


def test_a_conflict_on_a_final_bet_is_acknowledged_and_offers_nothing_else(
        api: Api, stack: Stack) -> None:
    browser = signed_in(api.url, new_person(stack.context, "operator"))
    bet = stack.place(REFUNDER, fate="unknown", stake="8.00")
    stack.wait_for_state(bet.id, BetState.REFUNDED)
    report_result(stack.context, REFUNDER, bet.bet_ref, payout="30.00", currency="EUR")
    page = browser.get(f"{api.url}/console/bets/{bet.id}", timeout=10).text
    assert re.findall(r'id="decide-([a-z_]+)"', page) == ["acknowledged"]
    done = _decide(api, browser, bet.id, resolution="acknowledged",
                   note="the provider's late result is wrong: refund stands")
    assert done.status_code == 200 and "Decision applied." in done.text
    assert [r.resolution for r in stack.reviews(bet.id)] == ["acknowledged"]
    assert stack.bet(bet.id).state is BetState.REFUNDED


def test_a_decision_without_a_note_is_refused_naming_the_note_and_changes_nothing(
        api: Api, stack: Stack) -> None:
    browser = signed_in(api.url, new_person(stack.context, "operator"))
    bet = api.wait_for_state(api.place(stack, "reviewer", fate="never"), "in_review")["bet"]
    refused = _decide(api, browser, bet["id"], resolution="refunded", note="  ")
    assert refused.status_code == 422 and "note: must not be empty" in refused.text
    bad_payout = _decide(api, browser, bet["id"], resolution="settled", payout="ten",
                         note="won")
    assert bad_payout.status_code == 422 and "payout" in bad_payout.text
    assert stack.bet(bet["id"]).state is BetState.IN_REVIEW


def test_an_admin_adds_and_disables_an_account_and_the_change_is_logged(
        api: Api, stack: Stack) -> None:
    admin = new_person(stack.context, "admin")
    browser = signed_in(api.url, admin)
    token = form_token(browser.get(f"{api.url}/console/accounts", timeout=10).text)
    name = f"new-{admin.name}"
    added = browser.post(f"{api.url}/console/accounts/add", timeout=10, data={
        "csrf": token, "name": name, "role": "viewer", "password": "a fine long password"})
    assert added.status_code == 200 and name in added.text, added.text[:400]
    newcomer = signed_in(api.url, Person(name, "a fine long password", "viewer"))
    assert newcomer.get(f"{api.url}/console", timeout=10).status_code == 200
    browser.post(f"{api.url}/console/accounts/disable", timeout=10,
                 data={"csrf": token, "name": name})
    ended = newcomer.get(f"{api.url}/console", allow_redirects=False, timeout=10)
    assert ended.status_code == 303  # the disabled account's session ended at once
    assert [a for a, _ in _log_of(stack, name)][:2] == ["account_added", "signed_in"]
    self_disable = browser.post(f"{api.url}/console/accounts/disable", timeout=10,
                                data={"csrf": token, "name": admin.name})
    assert self_disable.status_code == 422 and "your own account" in self_disable.text


def test_an_approver_may_not_manage_accounts(api: Api, stack: Stack) -> None:
    browser = signed_in(api.url, new_person(stack.context, "approver"))
    assert browser.get(f"{api.url}/console/accounts", timeout=10).status_code == 403


def test_a_dead_letter_is_resent_from_the_console_and_the_resend_is_logged(
        api: Api, stack: Stack) -> None:
    receiver = stack.receiver
    assert receiver is not None
    operator = new_person(stack.context, "operator")
    browser = signed_in(api.url, operator)
    receiver.down = True
    try:
        bet = stack.place("patient", fate="returned", payout="9.00")
        report_result(stack.context, "patient", bet.bet_ref, payout="9.00", currency="EUR")
        wait_until(lambda: [n.state for n in stack.notifications(bet.id)] == ["dead"], 30)
    finally:
        receiver.down = False
    [dead] = stack.notifications(bet.id)
    page = browser.get(f"{api.url}/console/notifications", timeout=10)
    assert dead.event_id in page.text
    nothing = browser.post(f"{api.url}/console/notifications/resend", timeout=10,
                           data={"csrf": form_token(page.text)})
    assert nothing.status_code == 422 and "event_id: choose at least one" in nothing.text
    resent = browser.post(f"{api.url}/console/notifications/resend", timeout=10,
                          data={"csrf": form_token(page.text), "event_id": dead.event_id})
    assert resent.status_code == 200 and "Dead letters sent again." in resent.text
    wait_until(lambda: [n.state for n in stack.notifications(bet.id)] == ["delivered"], 30)
    assert ("notification_resent", "") in _log_of(stack, operator.name)


def test_behind_a_sign_on_proxy_a_form_needs_the_persons_token_too(
        behind_sso: Api, stack: Stack) -> None:
    person = new_person(stack.context, "operator")
    as_person = {"X-Forwarded-User": person.name}
    page = requests.get(f"{behind_sso.url}/console/notifications", timeout=10,
                        headers=as_person)
    guessed = requests.post(f"{behind_sso.url}/console/notifications/resend", timeout=10,
                            headers=as_person, data={"csrf": "guessed", "event_id": "x"})
    assert guessed.status_code == 403 and "security token" in guessed.text
    taken = requests.post(f"{behind_sso.url}/console/notifications/resend", timeout=10,
                          headers=as_person, data={"csrf": form_token(page.text)})
    assert taken.status_code == 422  # past the token: no dead letter was chosen


def _refused_from_here(stack: Stack) -> int:
    since = stack.context.clock() - timedelta(minutes=15)
    with stack.context.db.unit_of_work() as session:
        return session.query(AccessEvent).filter(
            AccessEvent.action == "sign_in_refused", AccessEvent.address == "127.0.0.1",
            AccessEvent.at >= since).count()


def test_an_address_with_many_refused_sign_ins_is_refused_whatever_name_it_tries(
        stack: Stack) -> None:
    limit = _refused_from_here(stack) + 2
    with running_api(stack, log_name="console-strict.log",
                     env={"BETGUARD_CONSOLE_ADDRESS_SIGN_IN_LIMIT": str(limit)}) as strict:
        browser = requests.Session()

        def attempt(name: str, password: str) -> requests.Response:
            form = browser.get(f"{strict.url}/console/login", timeout=10)
            return browser.post(f"{strict.url}/console/login", timeout=10, data={
                "csrf": form_token(form.text), "name": name, "password": password})

        assert [attempt(f"guess-{n}", "not it").status_code for n in range(2)] == [401, 401]
        person = new_person(stack.context, "viewer")  # a real account, its right password
        refused = attempt(person.name, person.password)
        assert refused.status_code == 429 and "too many failed sign-ins from here" in \
            refused.text


def test_decisions_beyond_the_limit_per_minute_are_refused_and_change_nothing(
        stack: Stack) -> None:
    with running_api(stack, log_name="console-decisions.log",
                     env={"BETGUARD_CONSOLE_DECISIONS_PER_MINUTE": "1"}) as strict:
        browser = signed_in(strict.url, new_person(stack.context, "operator"))
        token = form_token(browser.get(f"{strict.url}/console/bulk", timeout=10).text)
        empty_range = {"csrf": token, "provider": "sleepy", "placed_from": "2001-01-01T00:00",
                       "placed_to": "2001-01-01T00:01", "note": "nothing in it"}
        jobs = len(bulk_rechecks.recent(stack.context))
        first = browser.post(f"{strict.url}/console/bulk/recheck", timeout=10,
                             data=empty_range)
        assert first.status_code == 200 and "0 / 0 checked" in first.text
        second = browser.post(f"{strict.url}/console/bulk/recheck", timeout=10,
                              data=empty_range)
        assert second.status_code == 429 and "more than 1 decisions in a minute" in second.text
        assert len(bulk_rechecks.recent(stack.context)) == jobs + 1


def test_a_bulk_recheck_without_a_range_is_refused_naming_the_field(
        api: Api, stack: Stack) -> None:
    browser = signed_in(api.url, new_person(stack.context, "operator"))
    token = form_token(browser.get(f"{api.url}/console/bulk", timeout=10).text)
    answer = browser.post(f"{api.url}/console/bulk/recheck", timeout=10, data={
        "csrf": token, "provider": "sleepy", "placed_from": "2026-12-07T10:00",
        "note": "no end"})
    assert answer.status_code == 422 and "placed_to: must not be empty" in answer.text
    unknown = browser.post(f"{api.url}/console/bulk/recheck", timeout=10, data={
        "csrf": token, "provider": "nobody", "placed_from": "2026-12-07T10:00",
        "placed_to": "2026-12-07T11:00", "note": "who"})
    assert unknown.status_code == 422 and "provider: must be one of" in unknown.text


def test_signing_out_ends_the_session_for_good(api: Api, stack: Stack) -> None:
    person = new_person(stack.context, "viewer")
    browser = signed_in(api.url, person)
    token = form_token(browser.get(f"{api.url}/console", timeout=10).text)
    cookie = browser.cookies.get("betguard_session", path="/console")
    out = browser.post(f"{api.url}/console/logout", allow_redirects=False, timeout=10,
                       data={"csrf": token})
    assert out.status_code == 303 and out.headers["location"] == "/console/login"
    replayed = requests.get(f"{api.url}/console", allow_redirects=False, timeout=10,
                            cookies={"betguard_session": cookie or ""})
    assert replayed.status_code == 303  # the old cookie names an ended session
    assert [a for a, _ in _log_of(stack, person.name)][-2:] == ["signed_in", "signed_out"]
