"""``/metrics`` never blocks the API: while the database keeps a scrape waiting (a
table locked by another transaction), the API still answers everything else, the
scrape is answered 503 once its time is up, and the next scrape after the database
answers again is whole. Against the real ``betguard api`` process and PostgreSQL."""

from __future__ import annotations

import threading

import pytest
import requests
from sqlalchemy import text

from tests.integration.api_server import running_api
from tests.integration.harness import Stack, wait_until

pytestmark = pytest.mark.integration

# A request the event loop cannot serve would wait for the locked table: the client
# gives up long before. This bounds a hang; it measures nothing.
CLIENT_TIMEOUT = 5.0


def scrapes_waiting_for_a_lock(stack: Stack) -> int:
    with stack.context.db.engine.connect() as connection:
        return int(connection.scalar(text(
            "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'bets'::regclass"))
            or 0)


def test_a_scrape_stuck_on_the_database_answers_503_and_the_api_keeps_serving(
    stack: Stack,
) -> None:
    with running_api(stack, log_name="api-metrics.log") as api:
        assert requests.get(api.url + "/metrics", timeout=30).status_code == 200
        answers: dict[str, requests.Response] = {}
        with stack.context.db.engine.connect() as locker:
            locker.execute(text("LOCK TABLE bets IN ACCESS EXCLUSIVE MODE"))
            scrape = threading.Thread(target=lambda: answers.update(
                metrics=requests.get(api.url + "/metrics", timeout=30)))
            scrape.start()
            wait_until(lambda: scrapes_waiting_for_a_lock(stack) > 0, 10)

            health = requests.get(api.url + "/healthz", timeout=CLIENT_TIMEOUT)

            scrape.join(30)
            locker.rollback()
        assert health.status_code == 200
        assert answers["metrics"].status_code == 503
        assert "the database did not answer" in answers["metrics"].text
        wait_until(lambda: requests.get(api.url + "/metrics", timeout=30).status_code == 200,
                   30)
        assert "betguard_bets" in requests.get(api.url + "/metrics", timeout=30).text
