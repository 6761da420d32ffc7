"""Finding and installing headless Chromium and its chromedriver for the browser tests.

Separate from the test helpers because ``make test`` runs it up front
(``python -m betguard_devkit.local_services --ensure``): the end-to-end tests then find
Debian's browser and driver instead of letting Selenium Manager download others.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from pathlib import Path

log = logging.getLogger(__name__)

_DEBIAN_CHROMIUM = Path("/usr/bin/chromium")
_DEBIAN_CHROMEDRIVER = Path("/usr/bin/chromedriver")
_PACKAGES = ("chromium", "chromium-driver")


def find_chromium() -> tuple[Path, Path] | None:
    """Return ``(browser, driver)``: Debian's paths first, then PATH; None if either lacks.

    Both are needed together: a driver without its browser (or of another major
    version, which Debian's paired packages rule out) cannot start a session.
    """
    browser = _executable(_DEBIAN_CHROMIUM, "chromium")
    driver = _executable(_DEBIAN_CHROMEDRIVER, "chromedriver")
    if browser is None or driver is None:
        return None
    return browser, driver


def _executable(preferred: Path, name: str) -> Path | None:
    if preferred.is_file() and os.access(preferred, os.X_OK):
        return preferred
    found = shutil.which(name)
    return Path(found) if found else None


def ensure_chromium_installed() -> Path | None:
    """Install Debian's ``chromium`` and ``chromium-driver`` so the browser tests run a
    real browser; return the driver's path, or None where they cannot be installed
    (not root, no apt-get): the browser tests then fail naming this command."""
    found = find_chromium()
    apt = shutil.which("apt-get")
    if found or os.geteuid() != 0 or not apt:
        return found[1] if found else None
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    args = [apt, "install", "-y", "--no-install-recommends", *_PACKAGES]
    for attempt in (args, [apt, "update"], args):
        log.warning("running %s", " ".join(attempt))
        done = subprocess.run(attempt, env=env, timeout=900, check=False,  # noqa: S603
                              capture_output=True)
        if attempt is args and done.returncode == 0:
            break
    found = find_chromium()
    return found[1] if found else None
