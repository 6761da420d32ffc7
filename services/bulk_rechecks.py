"""Bulk re-checks after an outage (docs/console.md): a person selects a provider's
pending bets placed in a time range and has them all checked again, now rather than at
their next backoff slot.

Each bet's next check is moved to a slot paced at the provider's rate limit (or
``DEFAULT_PACE`` checks/s without one), so the backlog drains at a pace the provider
can take, and the provider calls themselves still pass its shared rate limit, bulkhead
and breaker. Each bet changes by its own compare-and-set with a ``recheck_ordered``
event naming the job; a bet whose check is at the provider now is left alone (its
answer will come). The database is the truth: wake-ups are sent for slots within the
longest countdown, and the sweep dispatches the others when they fall due, so a lost
wake-up delays a bet by one sweep at most. No money moves: no second person is needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from betguard.models.domain import transitions
from betguard.models.domain.access import Actor, Role
from betguard.models.domain.errors import BetNotFound, InvalidCommand
from betguard.models.domain.snapshot import BetSnapshot
from betguard.models.store import bulk_jobs, repository
from betguard.models.store.db import Session
from betguard.models.store.tables import BulkJob
from betguard.services.context import Context
from betguard.services.operator_text import require_text

DEFAULT_PACE = 20.0  # checks/s for a provider without a rate limit
MAX_BETS = 5000  # per job: a larger backlog is several jobs over narrower ranges
CHUNK = 500  # bets per transaction
WAKE_WITHIN = timedelta(minutes=5)  # later slots are the sweep's to dispatch


@dataclass(frozen=True)
class JobView:
    id: int
    provider: str
    placed_from: datetime
    placed_to: datetime
    requested_by: str
    requested_at: datetime
    note: str
    total: int
    in_flight: int
    done: int
    last_slot_at: datetime

    @property
    def percent(self) -> int:
        return 100 if self.total == 0 else int(100 * self.done / self.total)


def start(ctx: Context, provider: str, placed_from: datetime, placed_to: datetime,
          actor: Actor, note: str) -> JobView:
    actor.require(Role.OPERATOR, "re-check bets in bulk")
    require_text(note, "note")
    policy = ctx.policy(provider)
    if placed_to < placed_from:
        raise InvalidCommand("placed_to: must not be before placed_from")
    now = ctx.clock()
    pace = policy.rate_limit or DEFAULT_PACE
    with ctx.db.unit_of_work() as session:
        bets = bulk_jobs.pending_in_range(session, provider, placed_from, placed_to,
                                          limit=MAX_BETS + 1)
        if len(bets) > MAX_BETS:
            raise InvalidCommand(f"placed_from: more than {MAX_BETS} pending bets in this "
                                 "range: split it into narrower ranges")
        latest = bulk_jobs.latest_kinds(session, [bet.id for bet in bets])
        waiting = [bet for bet in bets
                   if not transitions.check_in_flight(bet, latest.get(bet.id), now)]
        job = bulk_jobs.add(session, kind="recheck", provider=provider,
                            placed_from=placed_from, placed_to=placed_to,
                            requested_by=actor.name, requested_at=now, note=note,
                            total=len(waiting), in_flight=len(bets) - len(waiting),
                            last_slot_at=now + timedelta(seconds=len(waiting) / pace))
        session.commit()
        job_id = job.id
    woken = []
    for first in range(0, len(waiting), CHUNK):
        woken += _order(ctx, job_id, waiting[first:first + CHUNK], first, pace, now, actor)
    for bet_id, attempt, at, label in woken:
        ctx.scheduler.check(bet_id, attempt, at, label=label)
    return find(ctx, job_id)


def _order(ctx: Context, job_id: int, chunk: list[BetSnapshot], offset: int, pace: float,
           now: datetime, actor: Actor) -> list[tuple[int, int, datetime, str]]:
    """One transaction: each bet of ``chunk`` by its own compare-and-set; a bet that
    changed meanwhile (checked, decided) is left as it now is."""
    woken = []
    with ctx.db.unit_of_work() as session:
        ordered = []
        for n, bet in enumerate(chunk):
            at = now + timedelta(seconds=(offset + n) / pace)
            change = transitions.check_by(bet, operator=f"operator:{actor.name}", at=at,
                                          job=job_id)
            if not repository.apply(session, bet, change, now=now):
                continue
            ordered.append(bet.id)
            due = change.values["next_check_at"]
            if due - now <= WAKE_WITHIN:
                woken.append((bet.id, bet.check_attempt, due, bet.label))
        bulk_jobs.add_bets(session, job_id, ordered)
        session.commit()
    return woken


def find(ctx: Context, job_id: int) -> JobView:
    with ctx.db.unit_of_work() as session:
        job = bulk_jobs.get(session, job_id)
        if job is None:
            raise BetNotFound(f"no bulk job #{job_id}")
        return _views(session, [job])[0]


def recent(ctx: Context) -> list[JobView]:
    with ctx.db.unit_of_work() as session:
        return _views(session, bulk_jobs.recent(session))


def _views(session: Session, jobs: list[BulkJob]) -> list[JobView]:
    done = bulk_jobs.done_counts(session, jobs)
    return [JobView(j.id, j.provider, j.placed_from, j.placed_to, j.requested_by,
                    j.requested_at, j.note, j.total, j.in_flight, done.get(j.id, 0),
                    j.last_slot_at) for j in jobs]
