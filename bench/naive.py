"""The naive baseline: the Celery task most teams would write first, run by its own
worker with Celery's default settings (prefork, one process per CPU, prefetch of
four, acknowledged on receipt):

* one task per bet, rescheduling itself by raising: ``autoretry_for`` with
  ``retry_backoff`` (capped at a second, as betguard's own scenario re-checks at once);
* the bet loaded through the ORM and committed per check;
* a new HTTP connection per provider call (``requests.get``, no session);
* the engine and the Celery app made at import, from the environment.

It is the bench's reference only: betguard never imports it.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from decimal import Decimal

import requests
from celery import Celery
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from betguard.models.store.tables import AuditEvent, Bet
from betguard.providers.signing import Exchange, new_request_id, sign_request, verify_response

NAIVE_QUEUE = "bench.naive"
NAIVE_TASK = "bench.naive_check"

app = Celery("naive", broker=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
app.conf.task_default_queue = NAIVE_QUEUE
engine = create_engine(os.environ.get("DATABASE_URL", "sqlite://"))
PROVIDER_URL = os.environ.get("BENCH_NAIVE_PROVIDER_URL", "http://127.0.0.1:8100")
SECRET = next(iter(json.loads(os.environ.get("BETGUARD_PROVIDER_SECRETS", '{"x": "x"}'))
                   .values()))


class StillPending(Exception):
    """The provider has no result yet: let Celery retry with backoff."""


@app.task(  # type: ignore[untyped-decorator]
    name=NAIVE_TASK, autoretry_for=(StillPending, requests.RequestException),
    retry_backoff=True, retry_backoff_max=1, max_retries=None)
def naive_check(bet_id: int) -> str:
    now = datetime.now(UTC)
    with Session(engine) as session:
        bet = session.get(Bet, bet_id)
        if bet is None or bet.state != "pending":
            return "done"
        exchange = Exchange(new_request_id(), "GET", f"/bets/{bet.bet_ref}")
        response = requests.get(PROVIDER_URL + exchange.target,
                                headers=sign_request(SECRET, exchange, b""), timeout=10)
        verify_response(SECRET, response.headers, exchange, response.status_code,
                        response.content)
        answer = response.json()
        session.add(AuditEvent(bet_id=bet.id, at=now, kind="provider_answered",
                               actor="provider", detail=answer))
        bet.check_attempt += 1
        bet.updated_at = now
        if answer.get("status") == "settled":
            bet.state, bet.payout, bet.final_at = "settled", Decimal(answer["payout"]), now
        session.commit()
    if answer.get("status") == "pending":
        raise StillPending(bet_id)
    return str(answer.get("status"))
