"""Browsers for the end-to-end tests (one shared by the session, or a new one per test),
and the real ``betguard api`` serving the console over the test stack."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from selenium import webdriver

from betguard_devkit.browser import chromium_driver
from tests.integration.api_server import Api, running_api
from tests.integration.harness import Stack


@pytest.fixture(scope="session")
def browser() -> Iterator[webdriver.Chrome]:
    """One Chromium for the whole run: starting a browser costs about a second."""
    driver = chromium_driver()
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def fresh_browser() -> Iterator[webdriver.Chrome]:
    """A Chromium of this test's own: its cookies and storage are nobody else's."""
    driver = chromium_driver()
    try:
        yield driver
    finally:
        driver.quit()


second_browser = fresh_browser  # four eyes: two people, two browsers


@pytest.fixture(scope="module")
def console(stack: Stack) -> Iterator[Api]:
    with running_api(stack, log_name="console-api.log") as api:
        yield api
