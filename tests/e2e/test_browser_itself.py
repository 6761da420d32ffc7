"""The browser harness itself works: Chromium loads a page, runs its script, photographs it.

Served from a local thread, so a failure here is the harness (browser, driver, flags),
never betguard.
"""

from __future__ import annotations

import functools
import struct
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from betguard_devkit.browser import screenshot

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>harness check</title>
<script src="/greet.js" defer></script></head>
<body>
<form id="greet"><input id="name" name="name"><button id="go" type="button">Greet</button></form>
<p id="out">nobody greeted yet</p>
<div style="height: 1500px">taller than the window: the screenshot must hold all of it</div>
</body></html>
"""

# External on purpose: an inline script would not show that the page's own files load.
SCRIPT = """document.getElementById("go").addEventListener("click", () => {
  document.getElementById("out").textContent =
    "Hello, " + document.getElementById("name").value + "!";
});
"""


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Keep the request log out of the test output."""


@pytest.fixture
def site(tmp_path: Path) -> Iterator[str]:
    """Serve the page and its script on a free loopback port; yield the base URL."""
    root = tmp_path / "site"
    root.mkdir()
    (root / "index.html").write_text(PAGE, encoding="utf-8")
    (root / "greet.js").write_text(SCRIPT, encoding="utf-8")
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the PNG header's IHDR chunk."""
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_the_browser_runs_a_page_script_and_takes_a_screenshot(
    browser: webdriver.Chrome, site: str, tmp_path: Path
) -> None:
    browser.get(f"{site}/index.html")
    out = browser.find_element(By.ID, "out")
    assert out.text == "nobody greeted yet"

    browser.find_element(By.ID, "name").send_keys("Ada")
    browser.find_element(By.ID, "go").click()
    WebDriverWait(browser, 5).until(lambda _: out.text != "nobody greeted yet")
    assert out.text == "Hello, Ada!"

    page_height = browser.execute_script("return document.documentElement.scrollHeight")
    data = screenshot(browser, tmp_path / "shots" / "greeted.png").read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert _png_size(data) == (1280, page_height)  # the whole page, not one screenful
    assert browser.get_window_size() == {"width": 1280, "height": 900}  # put back
