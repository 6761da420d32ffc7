"""``betguard worker-health`` proves that a worker takes tasks, not only that it is alive:
a worker that stopped consuming (its consumers cancelled, as after the broker
reconnects of Celery issues #8030 and #8384) still answers ``celery inspect ping``, and
the health check fails for it. A real worker process on a Redis of this module's own."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from celery import Celery
from celery.utils import worker_direct

from betguard.config.celery import DEFAULT_QUEUE
from betguard_devkit import processes
from betguard_devkit.local_services import RedisServer
from tests.integration.harness import Stack, run_betguard, wait_until

pytestmark = pytest.mark.integration

NAME = "health-check"


@dataclass
class Worker:
    node: str  # its node name, NAME@host
    env: dict[str, str]
    control: Celery  # a client app on the worker's broker, for remote control
    log: Path


@pytest.fixture(scope="module")
def worker(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    base = tmp_path_factory.mktemp("worker-health")
    with RedisServer(base_dir=base / "redis") as rds:
        env = stack.env | {"REDIS_URL": rds.url}
        log = base / "default.log"
        process = processes.default_worker(env, log, name=NAME, concurrency=1).start()
        control = Celery("health-control", broker=rds.url)
        try:
            replies = wait_until(lambda: control.control.ping(timeout=1.0), 60,
                                 lambda: f"the worker never answered a ping ({log})")
            yield Worker(next(iter(replies[0])), env, control, log)
        finally:
            process.stop()
            control.close()


def test_a_consuming_worker_passes_the_health_check(worker: Worker) -> None:
    run = run_betguard(worker.env, "worker-health", worker.node, "--timeout", "20")

    assert run.code == 0, run.out + run.err
    assert f"worker {worker.node} took a task from its queue in" in run.out


def test_a_worker_that_answers_pings_but_takes_no_tasks_fails_the_health_check(
    worker: Worker,
) -> None:
    for queue in (DEFAULT_QUEUE, worker_direct(worker.node).name):
        worker.control.control.cancel_consumer(queue, destination=[worker.node], reply=True)
    try:
        still_alive = worker.control.control.ping(destination=[worker.node], timeout=2.0)
        run = run_betguard(worker.env, "worker-health", worker.node, "--timeout", "3")
    finally:
        worker.control.control.add_consumer(DEFAULT_QUEUE, destination=[worker.node],
                                            reply=True)
        direct = worker_direct(worker.node)
        worker.control.control.add_consumer(direct.name, exchange=direct.exchange.name,
                                            exchange_type="direct", routing_key=direct.routing_key,
                                            destination=[worker.node], reply=True)

    assert still_alive and worker.node in still_alive[0]
    assert run.code == 1
    assert f"worker {worker.node} took no task from its queue within 3 s" in run.out
    healthy_again = run_betguard(worker.env, "worker-health", worker.node, "--timeout", "20")
    assert healthy_again.code == 0, healthy_again.out + healthy_again.err


def test_a_worker_name_without_a_host_is_refused_naming_the_argument(worker: Worker) -> None:
    run = run_betguard(worker.env, "worker-health", "provider")

    assert run.code == 2
    assert "WORKER" in run.err and "NAME@HOST" in run.err
