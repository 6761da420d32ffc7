"""Isolation: a provider that hangs (a second simulator holds every answer longer than
the read timeout) and a healthy one share the provider workers. The healthy provider's
bets are placed alone first, then again at the same moment as the hanging provider's;
the figure is the healthy bets' p99 time from placement to settled, beside the hanging
neighbour vs alone.

Without bulkheads every worker thread ended up waiting on the hanging provider and
the healthy bets did not settle at all; with them the hanging provider holds at most
its ``max_concurrency`` threads, and its circuit breaker soon stops calling it."""

from __future__ import annotations

import statistics
import time
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import func, select

from bench import measure
from bench.scenarios.checks import CHUNK, bet, retire
from bench.sizes import Sizes
from bench.stack import BenchStack
from betguard.models.tables import AuditEvent, Bet
from betguard.services.intake import place_bets

HEALTHY, HANGING = "isolated", "hanging"


@dataclass(frozen=True)
class Isolation:
    alone_p50: float  # seconds from placement to settled, healthy bets placed alone
    alone_p99: float
    beside_p50: float  # the same, placed with the hanging provider's bets
    beside_p99: float
    healthy: int
    hanging: int
    hanging_errors: dict[str, int]  # the hanging bets' provider errors, by kind
    hanging_requests: int  # requests that reached the hanging provider meanwhile


WARM_UP = 20  # healthy bets settled before measuring: pools and connections opened


def measure_isolation(stack: BenchStack, sizes: Sizes) -> Isolation:
    _settle_times(stack, "iso-warm", WARM_UP, hanging=0)
    alone = _settle_times(stack, "iso-alone", sizes.isolation_healthy, hanging=0)
    since = time.time()
    beside = _settle_times(stack, "iso-beside", sizes.isolation_healthy,
                           hanging=sizes.isolation_hanging)
    errors = _errors(stack, "iso-beside")
    requests = len(stack.hanging_log_since(since))
    retire(stack, HANGING)
    return Isolation(statistics.median(alone), _p99(alone), statistics.median(beside),
                     _p99(beside), sizes.isolation_healthy, sizes.isolation_hanging, errors,
                     requests)


def _settle_times(stack: BenchStack, tag: str, healthy: int, *, hanging: int) -> list[float]:
    """Place ``healthy`` bets (result already known) and ``hanging`` ones interleaved, as
    fast as intake takes them; wait until every healthy bet is settled."""
    healthy_refs = [f"{tag}-ok-{n:06d}" for n in range(healthy)]
    hanging_refs = [f"{tag}-hang-{n:06d}" for n in range(hanging)]
    spec = {"stake": "10.00", "currency": "EUR", "fate": "returned", "payout": "20.00"}
    stack.register([{"bet_ref": ref, **spec} for ref in healthy_refs])
    stack.register_hanging([{"bet_ref": ref, **spec} for ref in hanging_refs])
    payloads = [bet(HANGING, ref) for ref in hanging_refs]
    for n, ref in enumerate(healthy_refs):  # spread among the hanging bets
        payloads.insert(n * (hanging + healthy) // healthy, bet(HEALTHY, ref))
    for start in range(0, len(payloads), CHUNK):
        place_bets(stack.ctx, payloads[start:start + CHUNK])
    measure.wait_until(lambda: _pending(stack, f"{tag}-ok-") == 0, timeout=120 + healthy,
                       interval=0.2, what=f"every healthy bet of {tag} settled")
    return _durations(stack, f"{tag}-ok-")


def _pending(stack: BenchStack, prefix: str) -> int:
    with stack.ctx.db.unit_of_work() as session:
        return int(session.scalar(select(func.count()).select_from(Bet).where(
            Bet.bet_ref.startswith(prefix), Bet.final_at.is_(None))) or 0)


def _durations(stack: BenchStack, prefix: str) -> list[float]:
    with stack.ctx.db.unit_of_work() as session:
        rows = session.execute(select(Bet.placed_at, Bet.final_at, Bet.state)
                               .where(Bet.bet_ref.startswith(prefix))).all()
    unsettled = [state for _, _, state in rows if state != "settled"]
    if unsettled:
        raise RuntimeError(f"{len(unsettled)} healthy bets ended {Counter(unsettled)}")
    return [(final - placed).total_seconds() for placed, final, _ in rows if final is not None]


def _errors(stack: BenchStack, tag: str) -> dict[str, int]:
    error = AuditEvent.detail["error"].as_string()
    with stack.ctx.db.unit_of_work() as session:
        rows = session.execute(
            select(error, func.count()).join(Bet, Bet.id == AuditEvent.bet_id)
            .where(Bet.bet_ref.startswith(f"{tag}-hang-"), AuditEvent.kind == "provider_error")
            .group_by(error)).all()
    return {str(kind): int(count) for kind, count in rows}


def _p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98] if len(values) > 1 else values[0]
