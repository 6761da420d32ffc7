"""Screenshots of the console's main pages, for the docs: run against a demo left running
(``betguard demo --keep``), signed in as the demo operator it printed.

    python -m betguard_devkit.screenshots URL NAME PASSWORD [--out docs/console]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from selenium.webdriver.common.by import By

from betguard_devkit.browser import chromium_driver, phone, screenshot, set_viewport


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="the demo API's address, e.g. http://127.0.0.1:8000")
    parser.add_argument("name")
    parser.add_argument("password")
    parser.add_argument("--out", type=Path, default=Path("docs/console"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    driver = chromium_driver()
    try:
        driver.get(f"{args.url}/console/login")
        driver.find_element(By.NAME, "name").send_keys(args.name)
        driver.find_element(By.NAME, "password").send_keys(args.password)
        driver.find_element(By.CSS_SELECTOR, "#login button").click()
        driver.find_element(By.ID, "who")
        for name, path in (("overview", "/console"), ("reviews", "/console/reviews")):
            driver.get(args.url + path)
            print(screenshot(driver, args.out / f"{name}.png"))
        first = driver.find_elements(By.CSS_SELECTOR, "#queue a.bet-link")
        if first:
            first[0].click()
            driver.find_element(By.ID, "bet-title")
            print(screenshot(driver, args.out / "bet.png"))
            phone(driver)
            driver.save_screenshot(str(args.out / "bet-phone.png"))
            print(args.out / "bet-phone.png")
            set_viewport(driver, 1280, 900)
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
