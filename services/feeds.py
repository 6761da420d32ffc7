"""Pulling providers' history feeds into the mirror (``betguard.models.store.mirror``).

Beat runs ``pull_due_feeds`` every sweep interval; each run calls only the feeds that
are due. A feed is called at most once per ``feed_interval`` (its provider's rate
limit), by one process at a time, whatever the number of workers and beat ticks: the
call is claimed first in the database (``mirror.claim_feed``), and no transaction is
open while the provider is asked. The page and the feed's new cursor are stored in one
transaction, so a crash between them loses nothing: the next pull starts again from
the old cursor, and storing a row twice changes nothing.

One call per feed per due time: a full page (``more``) is continued at the next due
time, not at once, so the feed is caught up at ``feed_page_size / feed_interval`` rows
a second at most (1500 rows a minute by default). Size the page for the provider's
peak volume.

After a page is stored, every pending bet whose row just became final (settled or
cancelled) is checked now instead of at its next backoff: its result is in the mirror,
and the check reads it there.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from betguard.models.store import bet_queries, mirror
from betguard.models.store.mirror import FeedClaim
from betguard.providers.base import Capability
from betguard.providers.errors import ProviderError
from betguard.providers.guard import call_lease
from betguard.services.context import Context
from betguard.services.outcomes import take_mirrored_outcome

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PullReport:
    """What one pull of one feed did. ``called`` is False when the feed was not due or
    another pull held it (nothing else happened then)."""

    provider: str
    feed: str
    called: bool
    rows: int = 0  # rows in the page
    new: int = 0
    updated: int = 0
    unchanged: int = 0  # rows seen before (the boundary row, a replay)
    more: bool = False  # a full page: the rest comes at the next due time
    woken: int = 0  # pending bets checked now, their row just became final
    error: str | None = None


def history_feeds(ctx: Context) -> list[tuple[str, str]]:
    """Every (provider, feed) of the providers that publish a history."""
    return [(name, feed) for name, provider in sorted(ctx.providers.items())
            if Capability.HISTORY in provider.capabilities for feed in provider.feeds]


def pull_due_feeds(ctx: Context, *, wake: bool = True) -> list[PullReport]:
    """Pull every history feed that is due (one call each at most). A feed that fails
    unexpectedly is logged and the others are still pulled."""
    reports = []
    for provider, feed in history_feeds(ctx):
        try:
            reports.append(pull_feed(ctx, provider, feed, wake=wake))
        except Exception:  # a bug in one feed must not stop the others
            log.exception("feed %s/%s: pull failed", provider, feed)
            reports.append(PullReport(provider, feed, called=True, error="crashed"))
    return reports


def pull_feed(ctx: Context, provider_name: str, feed: str, *, wake: bool = True) -> PullReport:
    """One call of the feed if it is due: claim, ask the provider (no transaction open),
    then store the page and the new cursor in one transaction. A provider error is
    recorded on the feed (``last_error``) and the call still counts against the rate
    limit; the next due pull tries again from the same cursor."""
    claim = _claim(ctx, provider_name, feed)
    if claim is None:
        return PullReport(provider_name, feed, called=False)
    provider = ctx.providers[provider_name]
    try:
        page = provider.fetch_history(feed, claim.cursor)
    except ProviderError as exc:
        error = f"{type(exc).__name__}: {exc}"
        _record_failure(ctx, claim, error)
        log.warning("feed %s/%s: no page from cursor %s: %s", provider_name, feed,
                    claim.cursor, error)
        return PullReport(provider_name, feed, called=True, error=error)
    except Exception as exc:
        _record_failure(ctx, claim, f"{type(exc).__name__}: {exc}")
        raise
    now = ctx.clock()
    with ctx.db.transaction() as connection:
        stored = mirror.upsert_rows(connection, provider_name, feed, page.rows, now)
        held = mirror.advance(connection, claim, cursor=page.cursor, new_rows=stored.new,
                              now=now, caught_up=not page.more)
    if not held:
        log.warning("feed %s/%s: the pull outlived its lease and another one took the feed; "
                    "its rows are stored, its cursor is not", provider_name, feed)
    woken = wake_finished(ctx, provider_name, stored.finals) if wake else 0
    take_final_rows(ctx, provider_name, stored.finals)
    report = PullReport(provider_name, feed, called=True, rows=len(page.rows), new=stored.new,
                        updated=stored.updated, unchanged=stored.unchanged, more=page.more,
                        woken=woken)
    log.log(logging.INFO if report.new or report.updated else logging.DEBUG,
            "feed %s/%s: %d rows from cursor %s (%d new, %d updated, %d seen before), "
            "cursor now %s%s; %d bets checked now%s", provider_name, feed, report.rows,
            claim.cursor, report.new, report.updated, report.unchanged, page.cursor,
            " (more waiting)" if page.more else "", woken,
            "" if page.trace_id is None else f" (trace_id {page.trace_id})")
    return report


def _claim(ctx: Context, provider_name: str, feed: str) -> FeedClaim | None:
    """Claim the feed's next call. The lease is the whole pull's deadline: every call's
    attempts are bounded as a whole (``call_lease``), so a pull that outlives it has lost
    its connection or its process, and the next one takes the feed over, saying so."""
    policy = ctx.policy(provider_name)
    lease = call_lease(connect_timeout=policy.connect_timeout, read_timeout=policy.read_timeout,
                       attempts=policy.http_attempts) * (1 + len(policy.fallback_urls))
    now = ctx.clock()
    with ctx.db.transaction() as connection:
        before = mirror.cursor_of(connection, provider_name, feed)
        claim = mirror.claim_feed(connection, provider_name, feed, now=now,
                                  interval=policy.feed_interval, lease=lease)
    if claim is not None and before is not None and before["lease_until"] is not None:
        log.warning("feed %s/%s: the pull claimed at %s never finished (its lease ran out at "
                    "%s: its process died, or its call outlived the pull's deadline); this "
                    "pull takes the feed over from cursor %s", provider_name, feed,
                    before["last_call_at"], before["lease_until"], claim.cursor)
    return claim


def _record_failure(ctx: Context, claim: FeedClaim, error: str) -> None:
    with ctx.db.transaction() as connection:
        mirror.failed(connection, claim, error=error)


def wake_finished(ctx: Context, provider_name: str, round_refs: Iterable[str]) -> int:
    """After commit: check now each pending bet of these rounds (a row names the bet's
    ``round_ref``: the bet itself, or one of a round's bets) that waits for its next
    check (a check in flight, or one already due, is left alone: it reads the mirror
    itself). The wake-up carries the bet's current attempt, which its claim takes; a
    second wake-up of the same attempt, or the backoff's own, finds it taken and is only
    counted as a duplicate delivery."""
    refs = sorted(set(round_refs))
    if not refs:
        return 0
    now = ctx.clock()
    with ctx.db.transaction() as connection:
        waiting = bet_queries.waiting_of_rounds(connection, provider_name, refs, now)
    for bet_id, attempt, bet_ref in waiting:
        ctx.scheduler.check(bet_id, attempt, now, label=f"{provider_name}/{bet_ref}")
    return len(waiting)


def take_final_rows(ctx: Context, provider_name: str, round_refs: Iterable[str]) -> int:
    """After commit: give each bet in review whose row (its round's) just became final
    that row, its provider's own outcome (``betguard.services.review_facts``: it closes a
    review that waited for it, or is attached to it). Returns how many bets were given one."""
    refs = sorted(set(round_refs))
    if not refs:
        return 0
    with ctx.db.transaction() as connection:
        held = bet_queries.in_review_of_rounds(connection, provider_name, refs)
    for bet_id in held:
        take_mirrored_outcome(ctx, bet_id)
    return len(held)
