"""Reconciliation (对账): compare a provider's history with betguard's bets over a window.

``reconcile`` pulls the provider's feeds (unless told not to), compares the mirror
(``provider_rows``) with the bets, stores a run and each difference, and acts on them
(``betguard.services.reconcile_store``). ``run_due`` is beat's hourly job: every provider with
a history feed whose last scheduled run is older than its ``reconcile_interval``.

Time: a feed shows bets up to ``feed_lag`` late, so the mirror is complete only up to
the *horizon*: the feeds' last successful pull (the earliest over the provider's
feeds) minus ``feed_lag``. The window is clipped to it; what was left out as too
recent is counted in the report, and the next run covers it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from betguard.models.domain.errors import InvalidCommand
from betguard.models.domain.times import from_millis
from betguard.models.store import mirror
from betguard.models.store import reconciliation as stored
from betguard.models.store.db import Session
from betguard.models.store.tables import ReconciliationRun
from betguard.providers.base import Capability, Provider
from betguard.providers.errors import ProviderError
from betguard.services.context import Context
from betguard.services.feeds import pull_feed
from betguard.services.reconcile_compare import (
    Comparison,
    compare,
)
from betguard.services.reconcile_sides import left_out, load_sides
from betguard.services.reconcile_store import Found, Wake, store
from betguard.services.reconcile_summary import compare_summary

log = logging.getLogger(__name__)


Mode = Literal["rows", "summary"]


SCHEDULED = "scheduled"  # the mode column of beat's runs (they compare row by row)


MAX_PAGES = 20  # pages one reconciliation pulls from a feed before comparing


REFILL_SPAN = timedelta(days=40)  # the longest window a time-range history call takes


class NoHistoryFeed(InvalidCommand):
    """Raised when a provider has no history feed to reconcile with."""


class NoHorizon(InvalidCommand):
    """Raised when a feed was never pulled successfully: nothing is known to compare."""


@dataclass(frozen=True)
class Report:
    """What one reconciliation compared, what it left out, and what it found."""

    run_id: int
    provider: str
    mode: str
    window_from: datetime
    window_to: datetime
    horizon: datetime
    compared_to: datetime  # the window's end, clipped to the horizon
    compared_here: int
    compared_there: int
    left_out_here: int  # placed after the horizon: too recent to compare
    left_out_there: int
    not_yet: int  # differences that may only be the feed's lag: looked at next time
    differences: list[Found]
    totals: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def clipped(self) -> bool:
        return self.compared_to < self.window_to

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for found in self.differences:
            counts[found.kind] = counts.get(found.kind, 0) + 1
        return dict(sorted(counts.items()))

    @property
    def new(self) -> int:
        return sum(1 for found in self.differences if found.new)

    def as_json(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "provider": self.provider, "mode": self.mode,
                "window_from": self.window_from, "window_to": self.window_to,
                "horizon": self.horizon, "compared_to": self.compared_to,
                "clipped": self.clipped, "compared_here": self.compared_here,
                "compared_there": self.compared_there,
                "left_out_as_too_recent": {"here": self.left_out_here,
                                           "there": self.left_out_there},
                "not_yet": self.not_yet, "counts": self.counts(), "new": self.new,
                "totals": self.totals, "notes": self.notes,
                "differences": [found.as_json() for found in self.differences]}


def history_provider(ctx: Context, provider: str) -> Provider:
    """The provider's adapter, refusing a provider unknown or without a history feed."""
    ctx.policy(provider)  # UnknownProvider, naming the known ones
    adapter = ctx.providers.get(provider)
    if adapter is None or Capability.HISTORY not in adapter.capabilities or not adapter.feeds:
        raise NoHistoryFeed(f"provider {provider!r} has no history feed to reconcile with")
    return adapter


def reconcile(ctx: Context, provider: str, window_from: datetime, window_to: datetime, *,
              mode: Mode = "rows", pull: bool = True, refill: bool = False) -> Report:
    """Compare ``provider``'s history with the bets placed in [window_from, window_to);
    ``refill`` first reads the window again from the provider's time-range history."""
    adapter = history_provider(ctx, provider)
    if window_from.tzinfo is None or window_to.tzinfo is None:
        raise InvalidCommand("window: times must carry a time zone (UTC)")
    if window_from >= window_to:
        raise InvalidCommand(f"window: from ({window_from.isoformat()}) must be before to "
                             f"({window_to.isoformat()})")
    if mode not in ("rows", "summary"):
        raise InvalidCommand(f"mode: must be rows or summary, not {mode!r}")
    notes = pull_feeds(ctx, provider, adapter.feeds) if pull else []
    if refill:
        notes += refill_window(ctx, provider, adapter, window_from, window_to)
    with ctx.db.unit_of_work() as session:
        horizon = feed_horizon(session, provider, adapter.feeds,
                               ctx.policy(provider).feed_lag)
    if horizon is None:
        raise NoHorizon(f"provider {provider!r}: a feed ({', '.join(adapter.feeds)}) has no "
                        "successful pull yet, so nothing is known to compare")
    return _run(ctx, provider, window_from, window_to, horizon, mode=mode, notes=notes)


def pull_feeds(ctx: Context, provider: str, feeds: Iterable[str]) -> list[str]:
    """Pull each feed now, page after page while the provider has more (within
    ``MAX_PAGES``, at the feed's own rate limit), so the mirror holds what the provider
    published. A failed pull, or a feed still behind, is a note in the report: the
    comparison then stops at the older horizon, or may see the lag as differences."""
    interval = ctx.policy(provider).feed_interval
    notes = []
    for feed in feeds:
        for _page in range(MAX_PAGES):
            pulled = pull_feed(ctx, provider, feed, wake=False)
            if pulled.error is not None:
                notes.append(f"pull of feed {feed!r} failed: {pulled.error}")
                break
            if not pulled.called or not pulled.more:
                break  # pulled up to now (or by another pull within its interval)
            time.sleep(interval)  # more waiting: the next page at the feed's rate limit
        else:
            notes.append(f"feed {feed!r} still has rows waiting after {MAX_PAGES} pages: "
                         "differences of its newest bets may be only its lag")
    return notes


def refill_window(ctx: Context, provider: str, adapter: Provider, window_from: datetime,
                  window_to: datetime) -> list[str]:
    """Read the window again from the provider's time-range history into the mirror
    (every write idempotent, the newest version winning, as a feed pull's): a record the
    cursor feed skipped or lost is then compared like the others. The window is read in
    spans the provider allows (``REFILL_SPAN``), page after page at the feed's rate
    limit, within ``MAX_PAGES`` a span. What happened is the report's note."""
    if Capability.HISTORY_WINDOW not in adapter.capabilities:
        return [f"not refilled: provider {provider!r} has no time-range history"]
    interval = ctx.policy(provider).feed_interval
    feed = adapter.feeds[0]
    rows = new = updated = 0
    span_from = window_from
    while span_from < window_to:
        span_to = min(window_to, span_from + REFILL_SPAN)
        start = span_from
        for _page in range(MAX_PAGES):
            try:
                page = adapter.fetch_history_window(start, span_to)
            except ProviderError as exc:
                return [f"refill from {start.isoformat()} failed: {type(exc).__name__}: {exc}"]
            with ctx.db.transaction() as connection:
                stored = mirror.upsert_rows(connection, provider, feed, page.rows, ctx.clock())
            rows, new, updated = rows + len(page.rows), new + stored.new, updated + stored.updated
            if not page.more:
                break
            start = from_millis(int(page.cursor))
            time.sleep(interval)
        else:
            return [f"refill stopped after {MAX_PAGES} pages from {span_from.isoformat()}: "
                    "the window is larger than one reconciliation reads"]
        span_from = span_to
    return [f"refilled from the provider's time-range history: {rows} rows, {new} new, "
            f"{updated} updated"]


def feed_horizon(session: Session, provider: str, feeds: Sequence[str],
                 feed_lag: float) -> datetime | None:
    """The earliest last successful pull of the provider's feeds, minus ``feed_lag``;
    None while a feed has never been pulled successfully."""
    rows = stored.last_successes(session, provider)
    successes = [rows.get(feed) for feed in feeds]
    if not successes or any(moment is None for moment in successes):
        return None
    return min(m for m in successes if m is not None) - timedelta(seconds=feed_lag)


def _run(ctx: Context, provider: str, window_from: datetime, window_to: datetime,
         horizon: datetime, *, mode: str, notes: list[str],
         run_id: int | None = None) -> Report:
    policy = ctx.policy(provider)
    lag = timedelta(seconds=policy.feed_lag)
    end = max(window_from, min(window_to, horizon))
    with ctx.db.unit_of_work() as session:
        here, there = load_sides(session, provider, window_from, end)
        left_here, left_there = left_out(session, provider, end, window_to)
    totals: list[dict[str, Any]] = []
    if mode == "summary":
        summary = compare_summary(here, there, window_from=window_from, window_to=end,
                                  horizon=horizon, feed_lag=lag)
        comparison: Comparison = summary.comparison
        totals = [period.as_json() for period in summary.totals]
    else:
        comparison = compare(here, there, horizon=horizon, feed_lag=lag)
    now = ctx.clock()
    with ctx.db.unit_of_work() as session:
        stored.lock_cursors(session, provider)
        run = _run_row(session, provider, window_from, window_to, mode, run_id, now)
        found, wakes = store(ctx, session, run, comparison.differences, now)
        run.finished_at = ctx.clock()
        run.counts = {**run.counts, "compared_to": end.isoformat(),
                      "horizon": horizon.isoformat(),
                      "compared_here": comparison.compared_here,
                      "compared_there": comparison.compared_there,
                      "left_out_here": left_here, "left_out_there": left_there,
                      "not_yet": comparison.not_yet,
                      "differences": _count_kinds(found),
                      "new": sum(1 for f in found if f.new)}
        session.commit()
        run_row_id = run.id
    _wake(ctx, wakes)
    return Report(run_row_id, provider, mode, window_from, window_to, horizon, end,
                  comparison.compared_here, comparison.compared_there, left_here, left_there,
                  comparison.not_yet, found, totals, notes)


def _run_row(session: Session, provider: str, window_from: datetime, window_to: datetime,
             mode: str, run_id: int | None, now: datetime) -> ReconciliationRun:
    if run_id is not None:
        run = session.get(ReconciliationRun, run_id)
        assert run is not None  # noqa: S101 - claimed and committed by run_due
        return run
    run = ReconciliationRun(provider=provider, window_from=window_from, window_to=window_to,
                            mode=mode, started_at=now, counts={"compare": mode})
    session.add(run)
    session.flush()
    return run


def _count_kinds(found: Iterable[Found]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in found:
        counts[item.kind] = counts.get(item.kind, 0) + 1
    return counts


def _wake(ctx: Context, wakes: Iterable[Wake]) -> None:
    now = ctx.clock()
    for wake in wakes:
        if wake.refund:
            ctx.scheduler.refund(wake.bet_id, now, label=wake.label, attempt=wake.attempt)
        else:
            ctx.scheduler.check(wake.bet_id, wake.attempt, now, label=wake.label)


# -- beat's job ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    run_id: int
    window_from: datetime
    window_to: datetime
    horizon: datetime


def run_due(ctx: Context) -> dict[str, int]:
    """Reconcile every provider with a history feed whose last scheduled run is older
    than its ``reconcile_interval``: the last ``reconcile_window`` up to the horizon
    (from where the last run stopped, if that is earlier: no gap between runs)."""
    runs = differences = 0
    for provider in sorted(ctx.providers):
        adapter = ctx.providers[provider]
        if Capability.HISTORY not in adapter.capabilities or not adapter.feeds \
                or provider not in ctx.policies:
            continue
        claim = claim_scheduled(ctx, provider, adapter.feeds)
        if claim is None:
            continue
        try:
            report = _run(ctx, provider, claim.window_from, claim.window_to, claim.horizon,
                          mode=SCHEDULED, notes=[], run_id=claim.run_id)
        except Exception:  # one provider's failure must not stop the others' runs
            log.exception("scheduled reconciliation of %s failed", provider)
            continue
        runs += 1
        differences += report.new
        if report.new:
            log.warning("reconciliation of %s found %d new differences: %s", provider,
                        report.new, report.counts())
    return {"runs": runs, "new_differences": differences}


def claim_scheduled(ctx: Context, provider: str, feeds: Sequence[str]) -> Claim | None:
    """Take the provider's scheduled run if it is due: its feed cursors are locked
    (a second tick or worker skips them) while the run row is written, so two runs of
    one provider never start at once."""
    policy = ctx.policy(provider)
    now = ctx.clock()
    with ctx.db.unit_of_work() as session:
        successes = stored.last_successes(session, provider, skip_locked=True)
        if any(successes.get(feed) is None for feed in feeds):
            return None  # never pulled, or being written by another run right now
        horizon = min(m for m in successes.values() if m is not None) \
            - timedelta(seconds=policy.feed_lag)
        last = stored.last_run(session, provider, SCHEDULED)
        if last is not None and last.started_at > now - timedelta(
                seconds=policy.reconcile_interval):
            return None
        window_from = horizon - timedelta(seconds=policy.reconcile_window)
        if last is not None:
            window_from = min(window_from, last.window_to)
        if window_from >= horizon:
            return None  # the feed has not moved on since the last run
        run = ReconciliationRun(provider=provider, window_from=window_from,
                                window_to=horizon, mode=SCHEDULED, started_at=now,
                                counts={"compare": "rows"})
        session.add(run)
        session.flush()
        claim = Claim(run.id, window_from, horizon, horizon)
        session.commit()
        return claim
