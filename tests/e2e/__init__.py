"""End-to-end tests that drive headless Debian Chromium through Selenium."""
