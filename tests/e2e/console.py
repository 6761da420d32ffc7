"""Driving the console: its accounts, signing in (in Chromium, or over plain HTTP), and
the waits a page needs. Selenium waits for the page, never a fixed sleep."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

import requests
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as seen
from selenium.webdriver.support.ui import WebDriverWait

from betguard.services.accounts import add_account
from betguard.services.context import Context

WAIT_SECONDS = 20


@dataclass(frozen=True)
class Person:
    name: str
    password: str
    role: str


def new_person(ctx: Context, role: str) -> Person:
    """An account of its own for each test: names are never shared between tests."""
    person = Person(f"{role}-{secrets.token_hex(3)}", secrets.token_urlsafe(16), role)
    add_account(ctx, person.name, role, person.password, by="tests")
    return person


def sign_in(driver: webdriver.Chrome, url: str, person: Person) -> None:
    driver.get(f"{url}/console/login")
    driver.find_element(By.NAME, "name").send_keys(person.name)
    driver.find_element(By.NAME, "password").send_keys(person.password)
    driver.find_element(By.CSS_SELECTOR, "#login button").click()
    wait_for(driver, "#who")


def wait_for(driver: webdriver.Chrome, css: str) -> WebElement:
    found: WebElement = WebDriverWait(driver, WAIT_SECONDS).until(
        seen.presence_of_element_located((By.CSS_SELECTOR, css)))
    return found


def wait_for_text(driver: webdriver.Chrome, css: str, text: str) -> None:
    WebDriverWait(driver, WAIT_SECONDS).until(
        seen.text_to_be_present_in_element((By.CSS_SELECTOR, css), text))


def submit(driver: webdriver.Chrome, form_css: str, **fields: str) -> None:
    """Fill the form's fields by name and press its button."""
    form = driver.find_element(By.CSS_SELECTOR, form_css)
    for name, value in fields.items():
        field = form.find_element(By.NAME, name)
        field.clear()
        field.send_keys(value)
    form.find_element(By.CSS_SELECTOR, "button").click()


def form_token(page: str) -> str:
    """The CSRF token of the (first) form on a console page."""
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page[:500]
    return found.group(1)


def signed_in(url: str, person: Person) -> requests.Session:
    """A plain HTTP client signed in to the console at ``url`` as ``person``."""
    browser = requests.Session()
    form = browser.get(f"{url}/console/login", timeout=10)
    answer = browser.post(f"{url}/console/login", timeout=10, allow_redirects=False,
                          data={"csrf": form_token(form.text), "name": person.name,
                                "password": person.password, "next": "/console/reviews"})
    assert answer.status_code == 303 and answer.headers["location"] == "/console/reviews"
    return browser
