"""Headless Chromium for the end-to-end tests: Debian's browser and driver, nothing fetched.

A missing browser raises instead of skipping: a skipped browser test looks green while
it checked nothing, so the error names the command that installs Chromium.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from betguard_devkit.local_services.browser import find_chromium

WINDOW = (1280, 900)
PHONE = (390, 844)
MAX_SCREENSHOT_HEIGHT = 4000
PAGE_LOAD_TIMEOUT_S = 30

# Each flag keeps a test run quiet, offline and repeatable: no GPU or /dev/shm on CI
# machines, no sandbox as root, no update, sync or QUIC traffic to Google.
_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    f"--window-size={WINDOW[0]},{WINDOW[1]}",
)


class _Chromium(webdriver.Chrome):
    """A Chrome driver that removes its throwaway profile when it quits."""

    def __init__(self, profile: Path, options: webdriver.ChromeOptions, service: Service):
        self._profile = profile
        super().__init__(options=options, service=service)

    def quit(self) -> None:
        try:
            super().quit()
        finally:
            shutil.rmtree(self._profile, ignore_errors=True)


def chromium_driver(download_dir: Path | None = None) -> webdriver.Chrome:
    """Start headless Debian Chromium with a fresh profile (no cookies shared between drivers).

    The driver's path is given to ``Service``, so Selenium Manager never runs and never
    downloads a browser or driver; ``SE_OFFLINE`` keeps it offline should it run anyway.
    """
    found = find_chromium()
    if found is None:
        raise RuntimeError(
            "headless Chromium not found (/usr/bin/chromium and /usr/bin/chromedriver); "
            "run `python -m betguard_devkit.local_services --ensure` (as root, installs "
            "Debian's chromium and chromium-driver)"
        )
    browser, driver_path = found
    os.environ.setdefault("SE_OFFLINE", "true")
    profile = Path(tempfile.mkdtemp(prefix="betguard-chromium-"))
    options = _options(browser, profile, download_dir)
    try:
        driver = _Chromium(profile, options, Service(executable_path=str(driver_path)))
    except BaseException:
        shutil.rmtree(profile, ignore_errors=True)
        raise
    driver.set_page_load_timeout(PAGE_LOAD_TIMEOUT_S)
    return driver


def _options(browser: Path, profile: Path, download_dir: Path | None) -> webdriver.ChromeOptions:
    options = webdriver.ChromeOptions()
    options.binary_location = str(browser)
    for flag in (*_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    if download_dir is not None:
        options.add_experimental_option("prefs", {
            "download.default_directory": str(download_dir),
            "download.prompt_for_download": False,
            "download.directory_upgrade": True,
        })
    return options


def screenshot(driver: webdriver.Chrome, path: Path, width: int = WINDOW[0]) -> Path:
    """Save a PNG of the whole page, not just the first screenful.

    Chromium photographs only the viewport, so it is stretched to the page's height
    (capped: a runaway page must not make a huge image) and then put back, as the
    session-wide browser is shared by later tests.
    """
    before = driver.get_window_size()
    height = int(driver.execute_script(
        "return Math.max(document.body.scrollHeight, document.documentElement.scrollHeight)"))
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        set_viewport(driver, width, min(max(height, 1), MAX_SCREENSHOT_HEIGHT))
        if not driver.save_screenshot(str(path)):
            raise RuntimeError(f"Chromium could not save a screenshot to {path}")
    finally:
        driver.set_window_size(before["width"], before["height"])
    return path


def phone(driver: webdriver.Chrome) -> None:
    """Give the page a phone's viewport (390x844, an iPhone 12-14) for the mobile layout."""
    set_viewport(driver, *PHONE)


def set_viewport(driver: webdriver.Chrome, width: int, height: int) -> None:
    """Size the page's viewport, not the window.

    Even headless, Chromium's window counts its (invisible) toolbars: a 1280x900 window
    shows a 1280x757 page. A window sized to the page would crop its bottom, so the
    difference is measured and added.
    """
    extra_w, extra_h = driver.execute_script(
        "return [outerWidth - innerWidth, outerHeight - innerHeight]")
    driver.set_window_size(width + int(extra_w), height + int(extra_h))
