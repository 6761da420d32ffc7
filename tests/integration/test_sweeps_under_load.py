"""Sweeps under load. They hold back while the provider queue is backed up: what waits
there is late, not lost, and more copies would only make every wake-up later; once the
queue has room, the lost wake-up is sent. And they never wait for a bet another
transaction holds (a batched check concluding hundreds of bets): they skip it this run.

The sweeps here run on a database of their own, which the stack's beat never sweeps,
and publish to a Redis database no worker reads: the queue and the bets stay as the
test leaves them."""

from __future__ import annotations

import dataclasses
import secrets
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from celery import Celery
from sqlalchemy import select, update

from betguard.config.celery import (
    BATCH_CHECK_TASK,
    CHECK_TASK,
    NOTIFY_TASK,
    PROVIDER_QUEUE,
    REFUND_TASK,
)
from betguard.messaging.scheduler import CeleryScheduler
from betguard.models.store.db import Database
from betguard.models.store.tables import Bet
from betguard.services.context import Context
from betguard.services.intake import place_bet
from betguard.services.sweeps import run_sweeps
from tests.integration.harness import Stack, bet_in, bet_payload, database_of_its_own, history_in

pytestmark = pytest.mark.integration

LIMIT = 3


@pytest.fixture(scope="module")
def own_database(stack: Stack) -> Iterator[Database]:
    with database_of_its_own(stack, "sweeps_under_load", pool_size=4) as db:
        yield db


@pytest.fixture
def idle_app(stack: Stack) -> Iterator[Celery]:
    app = Celery("idle-broker", set_as_current=False)
    app.conf.update(broker_url=stack.redis.url.rsplit("/", 1)[0] + "/9", task_routes={
        task: {"queue": PROVIDER_QUEUE}
        for task in (CHECK_TASK, BATCH_CHECK_TASK, REFUND_TASK, NOTIFY_TASK)})
    yield app
    empty(app)


@pytest.fixture
def idle_broker(idle_app: Celery) -> CeleryScheduler:
    return CeleryScheduler(idle_app, max_countdown=600)


@pytest.fixture
def ctx(stack: Stack, own_database: Database, idle_broker: CeleryScheduler) -> Context:
    timing = dataclasses.replace(stack.context.timing, sweep_backlog_limit=LIMIT, due_grace=0)
    return dataclasses.replace(stack.context, db=own_database, scheduler=idle_broker,
                               timing=timing, notifier=None)


def empty(app: Celery) -> None:
    with app.connection_for_write() as connection:
        connection.default_channel.client.flushdb()


def lose_wakeup(ctx: Context, idle_app: Celery) -> int:
    """A pending bet whose wake-up never arrived, due a day ago (first in the sweep's order)."""
    bet = place_bet(ctx, bet_payload("sleepy", f"bet-{secrets.token_hex(6)}")).bet
    with ctx.db.unit_of_work() as session:
        session.execute(update(Bet).where(Bet.id == bet.id)
                        .values(next_check_at=datetime.now(UTC) - timedelta(days=1)))
        session.commit()
    empty(idle_app)  # the wake-up placing sent: lost
    return bet.id


def kinds(ctx: Context, bet_id: int) -> list[str]:
    return [event.kind for event in history_in(ctx.db, bet_id)]


def test_wakeups_no_worker_has_taken_are_the_backlog(idle_broker: CeleryScheduler) -> None:
    assert idle_broker.backlog() == 0
    for n in range(5):
        idle_broker.check(10_000 + n, 1, datetime.now(UTC), label=f"test/{n}")

    assert idle_broker.backlog() == 5


def test_a_sweep_adds_nothing_to_a_backed_up_queue(ctx: Context, idle_app: Celery,
                                                   idle_broker: CeleryScheduler) -> None:
    bet_id = lose_wakeup(ctx, idle_app)
    for n in range(LIMIT):
        idle_broker.check(10_000 + n, 1, datetime.now(UTC), label=f"test/{n}")
    due_at = bet_in(ctx.db, bet_id).next_check_at

    report = run_sweeps(ctx)

    assert report.backlog == LIMIT
    assert (report.checks_dispatched, report.refunds_dispatched,
            report.notifications_dispatched) == (0, 0, 0)
    assert idle_broker.backlog() == LIMIT
    assert bet_in(ctx.db, bet_id).next_check_at == due_at  # still due, not leased
    assert "check_dispatched_by_sweep" not in kinds(ctx, bet_id)


def test_a_sweep_fills_the_queue_only_up_to_the_limit_and_the_lost_wakeup_goes_first(
        ctx: Context, idle_app: Celery, idle_broker: CeleryScheduler) -> None:
    bet_id = lose_wakeup(ctx, idle_app)
    idle_broker.check(10_000, 1, datetime.now(UTC), label="test/0")

    report = run_sweeps(ctx)

    assert report.backlog == 1
    dispatched = (report.checks_dispatched + report.refunds_dispatched
                  + report.notifications_dispatched)
    assert 1 <= dispatched <= LIMIT - 1
    # Checks of one provider due together share a wake-up: no more messages than bets.
    assert 1 + 1 <= idle_broker.backlog() <= 1 + dispatched
    assert "check_dispatched_by_sweep" in kinds(ctx, bet_id)


def test_a_sweep_skips_a_due_bet_another_transaction_holds_and_takes_it_next_run(
        ctx: Context, idle_app: Celery) -> None:
    held, free = lose_wakeup(ctx, idle_app), lose_wakeup(ctx, idle_app)
    roomy = dataclasses.replace(ctx, timing=dataclasses.replace(ctx.timing,
                                                                sweep_backlog_limit=1000))
    holder = ctx.db.engine.connect()
    holder.execute(select(Bet.id).where(Bet.id == held).with_for_update())
    sweep = threading.Thread(target=run_sweeps, args=(roomy,), daemon=True)
    try:
        sweep.start()
        sweep.join(timeout=20)
        assert not sweep.is_alive(), "the sweep waited for the row another transaction holds"
    finally:
        holder.rollback()
        holder.close()
    sweep.join(timeout=20)

    assert "check_dispatched_by_sweep" in kinds(ctx, free)
    assert "check_dispatched_by_sweep" not in kinds(ctx, held)
    run_sweeps(roomy)
    assert "check_dispatched_by_sweep" in kinds(ctx, held)
