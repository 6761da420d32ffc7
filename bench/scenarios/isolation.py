"""Isolation: a bad provider and a healthy one share the provider workers. The healthy
provider's bets are placed alone first, then again at the same moment as each bad
neighbour's in turn: one that hangs (a second simulator holds every answer longer than
the read timeout), one that drips its answers a byte every 2 s, headers included (a
proxy in front of the simulator), and one that never accepts the connection (a port
whose accept queue is full). Each figure is the healthy bets' p99 time from placement
to settled beside that neighbour vs alone; beside it, the most requests the
neighbour held at once, counted at the neighbour, vs its ``max_concurrency``.

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
from bench.stack import HANG_SECONDS, BenchStack
from betguard.models.store.tables import AuditEvent, Bet
from betguard.providers.guard import call_lease
from betguard.services.intake import place_bets
from betguard_devkit.neighbours import most_within

HEALTHY = "isolated"
# The neighbours, each a provider of its own, in the order they are measured: one that
# holds every answer past the read timeout, one that drips its answers a byte at a time
# (headers included), and one that never accepts the connection.
NEIGHBOURS = ("hanging", "dripping", "unaccepting")


@dataclass(frozen=True)
class Beside:
    """The healthy bets placed with one neighbour's, and what the neighbour saw."""

    neighbour: str
    p50: float  # seconds from placement to settled, healthy bets
    p99: float
    bets: int  # the neighbour's bets, placed with the healthy ones
    errors: dict[str, int]  # the neighbour's bets' provider errors, by kind
    requests: int | None  # requests that reached the neighbour (None: none can)
    peak_in_flight: int | None  # of them, the most it held at once, counted there
    limit: int  # the neighbour's max_concurrency
    watched: float  # seconds the neighbour was watched after placement
    waits: dict[str, float]  # where the healthy bets' time went (``_phases``)


@dataclass(frozen=True)
class Isolation:
    alone_p50: float  # seconds from placement to settled, healthy bets placed alone
    alone_p99: float
    healthy: int
    beside: tuple[Beside, ...]
    alone_waits: dict[str, float]


WARM_UP = 20  # healthy bets settled before measuring: pools and connections opened
LEASE_MARGIN = 10.0  # seconds the dripping neighbour is watched beyond a slot's lease


def measure_isolation(stack: BenchStack, sizes: Sizes) -> Isolation:
    _settle_times(stack, "iso-warm", WARM_UP)
    alone = _settle_times(stack, "iso-alone", sizes.isolation_healthy)
    beside = tuple(_beside(stack, sizes, neighbour) for neighbour in NEIGHBOURS)
    return Isolation(statistics.median(alone), _p99(alone), sizes.isolation_healthy, beside,
                     _phases(stack, "iso-alone-ok-"))


def _beside(stack: BenchStack, sizes: Sizes, neighbour: str) -> Beside:
    """The healthy bets placed with ``neighbour``'s; the neighbour is watched until
    ``isolation_observe`` seconds after placement (its breaker has opened and let its
    trials out by then), the dripping one for longer than a slot's lease (a slot handed
    on under a call still running would show only then), then its bets are retired."""
    tag = f"iso-{neighbour}"
    policy = stack.ctx.policy(neighbour)
    watch = sizes.isolation_observe
    if neighbour == "dripping":
        # a group's slot is leased for two calls' time (betguard.providers.bulkhead)
        lease = 2 * call_lease(connect_timeout=policy.connect_timeout,
                               read_timeout=policy.read_timeout, attempts=policy.http_attempts)
        watch = max(watch, lease + LEASE_MARGIN)
    if stack.drip is not None:
        stack.drip.held.reset()
    since = time.time()
    times = _settle_times(stack, tag, sizes.isolation_healthy, neighbour=neighbour,
                          neighbour_bets=sizes.isolation_hanging)
    time.sleep(max(0.0, since + watch - time.time()))
    requests, peak = _held(stack, neighbour, since)
    errors = _errors(stack, tag)
    retire(stack, neighbour)
    return Beside(neighbour, statistics.median(times), _p99(times), sizes.isolation_hanging,
                  errors, requests, peak, policy.max_concurrency, watch,
                  _phases(stack, f"{tag}-ok-"))


def _held(stack: BenchStack, neighbour: str, since: float) -> tuple[int | None, int | None]:
    """Requests that reached the neighbour since ``since``, and the most it held at once:
    the hanging simulator holds each one ``HANG_SECONDS`` whoever waits for it; the drip
    proxy counts its open requests itself; nothing reaches the unaccepting port."""
    if neighbour == "hanging":
        arrivals = sorted(entry["t"] for entry in stack.hanging_log_since(since))
        return len(arrivals), most_within(arrivals, HANG_SECONDS)
    if neighbour == "dripping" and stack.drip is not None:
        return stack.drip.held.total, stack.drip.held.peak
    return None, None


def _settle_times(stack: BenchStack, tag: str, healthy: int, *, neighbour: str = "",
                  neighbour_bets: int = 0) -> list[float]:
    """Place ``healthy`` bets (result already known) and ``neighbour_bets`` of the
    neighbour interleaved, as fast as intake takes them; wait until every healthy bet is
    settled."""
    healthy_refs = [f"{tag}-ok-{n:06d}" for n in range(healthy)]
    other_refs = [f"{tag}-hang-{n:06d}" for n in range(neighbour_bets)]
    spec = {"stake": "10.00", "currency": "EUR", "fate": "returned", "payout": "20.00"}
    stack.register([{"bet_ref": ref, **spec} for ref in healthy_refs])
    others = [{"bet_ref": ref, **spec} for ref in other_refs]
    if neighbour == "hanging":
        stack.register_hanging(others)
    elif neighbour == "dripping":  # the drip proxy answers as the main simulator
        stack.register(others)
    payloads = [bet(neighbour, ref) for ref in other_refs]
    for n, ref in enumerate(healthy_refs):  # spread among the neighbour's bets
        payloads.insert(n * (neighbour_bets + healthy) // healthy, bet(HEALTHY, ref))
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


def _phases(stack: BenchStack, prefix: str) -> dict[str, float]:
    """Where the bets' time went, p50 and p99 in seconds: from placement to the start of
    their first check (its due time, then the wake-up and the queue), and from that
    start to settled (the group's calls, refusals, conclusion)."""
    started = func.min(AuditEvent.at).filter(AuditEvent.kind == "check_started")
    with stack.ctx.db.unit_of_work() as session:
        rows = session.execute(
            select(Bet.placed_at, started, Bet.final_at).join(AuditEvent,
                                                               AuditEvent.bet_id == Bet.id)
            .where(Bet.bet_ref.startswith(prefix)).group_by(Bet.id)).all()
    to_start = [(first - placed).total_seconds() for placed, first, _ in rows if first]
    in_check = [(final - first).total_seconds() for _, first, final in rows if first and final]
    if not to_start or not in_check:
        return {}
    return {"to_first_check_p50_s": round(statistics.median(to_start), 2),
            "to_first_check_p99_s": round(_p99(to_start), 2),
            "first_check_to_settled_p50_s": round(statistics.median(in_check), 2),
            "first_check_to_settled_p99_s": round(_p99(in_check), 2)}


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
