"""Provider economy: no query for a bet whose result came back on the normal path (the
game server reported it before the first check), and for every other bet no more
queries than checks were scheduled for it, while every wake-up is delivered twice
more as duplicates."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from bench import measure
from bench.scenarios.checks import bet
from bench.sizes import Sizes
from bench.stack import BenchStack
from betguard.config.celery import CHECK_TASK
from betguard.models.store.tables import Bet
from betguard.services.intake import place_bets
from betguard.services.results import report_result

CHUNK = 50  # small enough that each chunk's results are reported before its first check
FATES = (("returned", 0.5), ("delayed", 0.2), ("never", 0.2), ("unknown", 0.1))
DUPLICATES = 2


@dataclass(frozen=True)
class Economy:
    normal_path_bets: int
    normal_path_queries: int
    unreturned_bets: int
    max_queries_per_check: float  # the worst bet: provider queries / checks scheduled for it
    queries: int
    checks: int
    duplicates_delivered: int


def count_queries(stack: BenchStack, sizes: Sizes) -> Economy:
    rng = random.Random(7)  # noqa: S311 - a scenario's dice
    specs: list[dict[str, Any]] = []
    for n in range(sizes.economy_bets):
        fate = rng.choices([f for f, _ in FATES], weights=[w for _, w in FATES])[0]
        spec: dict[str, Any] = {"bet_ref": f"eco-{n:07d}", "stake": "10.00", "currency": "EUR",
                                "fate": fate}
        specs.append({**spec, "delay": rng.uniform(0.5, 3.0)} if fate == "delayed" else spec)
    stack.register(specs)
    truth = stack.truth()["bets"]
    for start in range(0, len(specs), CHUNK):
        chunk = specs[start:start + CHUNK]
        place_bets(stack.ctx, [bet("economy", s["bet_ref"]) for s in chunk])
        for spec in chunk:
            fact = truth[spec["bet_ref"]]
            if spec["fate"] == "returned":
                report_result(stack.ctx, "economy", spec["bet_ref"], payout=fact["payout"],
                              currency="EUR")
    time.sleep(1.5)
    _duplicate_every_wakeup(stack)
    measure.wait_until(lambda: _open(stack) == 0, timeout=120, what="every economy bet decided")
    return _tally(stack, specs)


def _duplicate_every_wakeup(stack: BenchStack) -> None:
    """Deliver each pending bet's current check twice more, as a broker might."""
    from betguard.tasks.app import app

    with stack.ctx.db.unit_of_work() as session:
        rows = session.execute(select(Bet.id, Bet.check_attempt, Bet.bet_ref).where(
            Bet.provider == "economy", Bet.state == "pending")).all()
    for bet_id, attempt, ref in rows:
        for _ in range(DUPLICATES):
            app.send_task(CHECK_TASK, kwargs={"bet_id": bet_id, "attempt": attempt,
                                              "ref": f"economy/{ref}"})


def _open(stack: BenchStack) -> int:
    with stack.ctx.db.unit_of_work() as session:
        return len(session.scalars(select(Bet.id).where(
            Bet.provider == "economy", Bet.state.in_(("pending", "refund_pending")))).all())


def _tally(stack: BenchStack, specs: list[dict[str, Any]]) -> Economy:
    truth = stack.truth()["bets"]
    with stack.ctx.db.unit_of_work() as session:
        rows = {ref: (attempt - 1, dups) for ref, attempt, dups in session.execute(
            select(Bet.bet_ref, Bet.check_attempt, Bet.duplicate_deliveries)
            .where(Bet.provider == "economy"))}
    normal = [str(s["bet_ref"]) for s in specs if s["fate"] == "returned"]
    others = [str(s["bet_ref"]) for s in specs if s["fate"] != "returned"]
    worst = max((truth[ref]["queries"] / max(rows[ref][0], 1) for ref in others), default=0.0)
    return Economy(
        normal_path_bets=len(normal),
        normal_path_queries=sum(truth[ref]["queries"] for ref in normal),
        unreturned_bets=len(others), max_queries_per_check=worst,
        queries=sum(truth[ref]["queries"] for ref in others),
        checks=sum(rows[ref][0] for ref in others),
        duplicates_delivered=sum(dups for _, dups in rows.values()),
    )
