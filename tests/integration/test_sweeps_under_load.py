"""Sweeps under load. They hold back while the provider queue is backed up: what waits
there is late, not lost, and more copies would only make every wake-up later; once the
queue has room, the lost wake-up is sent. And they never wait for a bet another
transaction holds (a batched check concluding hundreds of bets): they skip it this run.

The scheduler here publishes to a Redis database no worker reads, so the queue stays as
the test leaves it."""

from __future__ import annotations

import dataclasses
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
from betguard.models.tables import Bet
from betguard.services.context import Context
from betguard.services.sweeps import run_sweeps
from tests.integration.harness import Stack

pytestmark = pytest.mark.integration

LIMIT = 3


@pytest.fixture
def idle_broker(stack: Stack) -> Iterator[CeleryScheduler]:
    app = Celery("idle-broker", set_as_current=False)
    app.conf.update(broker_url=stack.redis.url.rsplit("/", 1)[0] + "/9", task_routes={
        task: {"queue": PROVIDER_QUEUE}
        for task in (CHECK_TASK, BATCH_CHECK_TASK, REFUND_TASK, NOTIFY_TASK)})
    scheduler = CeleryScheduler(app, max_countdown=600)
    yield scheduler
    with app.connection_for_write() as connection:
        connection.default_channel.client.flushdb()


def sweeping_into(stack: Stack, scheduler: CeleryScheduler) -> Context:
    timing = dataclasses.replace(stack.context.timing, sweep_backlog_limit=LIMIT, due_grace=0)
    return dataclasses.replace(stack.context, scheduler=scheduler, timing=timing)


def lose_wakeup(stack: Stack) -> int:
    """A pending bet whose wake-up never arrived, due a day ago (first in the sweep's order)."""
    bet = stack.place("sleepy", fate="never")
    with stack.context.db.unit_of_work() as session:
        session.execute(update(Bet).where(Bet.id == bet.id)
                        .values(next_check_at=datetime.now(UTC) - timedelta(days=1)))
        session.commit()
    return bet.id


def test_wakeups_no_worker_has_taken_are_the_backlog(stack: Stack,
                                                     idle_broker: CeleryScheduler) -> None:
    assert idle_broker.backlog() == 0
    for n in range(5):
        idle_broker.check(10_000 + n, 1, datetime.now(UTC), label=f"test/{n}")

    assert idle_broker.backlog() == 5


def test_a_sweep_adds_nothing_to_a_backed_up_queue(stack: Stack,
                                                   idle_broker: CeleryScheduler) -> None:
    bet_id = lose_wakeup(stack)
    for n in range(LIMIT):
        idle_broker.check(10_000 + n, 1, datetime.now(UTC), label=f"test/{n}")
    due_at = stack.bet(bet_id).next_check_at

    report = run_sweeps(sweeping_into(stack, idle_broker))

    assert report.backlog == LIMIT
    assert (report.checks_dispatched, report.refunds_dispatched,
            report.notifications_dispatched) == (0, 0, 0)
    assert idle_broker.backlog() == LIMIT
    assert stack.bet(bet_id).next_check_at == due_at  # still due, not leased
    assert "check_dispatched_by_sweep" not in stack.kinds(bet_id)


def test_a_sweep_fills_the_queue_only_up_to_the_limit_and_the_lost_wakeup_goes_first(
        stack: Stack, idle_broker: CeleryScheduler) -> None:
    bet_id = lose_wakeup(stack)
    idle_broker.check(10_000, 1, datetime.now(UTC), label="test/0")

    report = run_sweeps(sweeping_into(stack, idle_broker))

    assert report.backlog == 1
    dispatched = (report.checks_dispatched + report.refunds_dispatched
                  + report.notifications_dispatched)
    assert 1 <= dispatched <= LIMIT - 1
    # Checks of one provider due together share a wake-up: no more messages than bets.
    assert 1 + 1 <= idle_broker.backlog() <= 1 + dispatched
    assert "check_dispatched_by_sweep" in stack.kinds(bet_id)


def test_a_sweep_skips_a_due_bet_another_transaction_holds_and_takes_it_next_run(
        stack: Stack, idle_broker: CeleryScheduler) -> None:
    held, free = lose_wakeup(stack), lose_wakeup(stack)
    ctx = dataclasses.replace(sweeping_into(stack, idle_broker), timing=dataclasses.replace(
        stack.context.timing, sweep_backlog_limit=1000, due_grace=0))
    holder = stack.context.db.engine.connect()
    holder.execute(select(Bet.id).where(Bet.id == held).with_for_update())
    sweep = threading.Thread(target=run_sweeps, args=(ctx,), daemon=True)
    try:
        sweep.start()
        sweep.join(timeout=20)
        assert not sweep.is_alive(), "the sweep waited for the row another transaction holds"
    finally:
        holder.rollback()
        holder.close()
    sweep.join(timeout=20)

    assert "check_dispatched_by_sweep" in stack.kinds(free)
    assert "check_dispatched_by_sweep" not in stack.kinds(held)
    run_sweeps(ctx)
    assert "check_dispatched_by_sweep" in stack.kinds(held)
