"""What the console's pages show, read in one unit of work each and returned as plain
views. The numbers are the ops commands' own (``betguard.ops.stats``, the bet story of
``bets show``): the console and the CLI never disagree about a bet."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import redis
from sqlalchemy import ColumnElement, select

from betguard.models.domain.errors import BetNotFound
from betguard.models.domain.events import EventKind
from betguard.models.domain.outbox import NotificationState
from betguard.models.store import accounts as account_store
from betguard.models.store import proposals, repository
from betguard.models.store.tables import AccessEvent, Bet, Notification, ReconciliationDifference
from betguard.ops.parsing import BetSelector
from betguard.ops.queries import BetStoryView, bet_story, checks_started, list_reviews
from betguard.ops.stats import Stats, collect_stats
from betguard.ops.views import BetView, ReviewView
from betguard.providers.guard import GuardedProvider
from betguard.services import approvals
from betguard.services.approvals import ProposalView
from betguard.services.context import Context
from betguard.services.late_facts import Fact
from betguard.services.review_facts import facts_about

ANSWERS = (EventKind.PROVIDER_ANSWERED.value, EventKind.PROVIDER_ERROR.value)
PAGE = 200


@dataclass(frozen=True)
class ProviderHealth:
    provider: str
    deadline_seconds: float
    breaker: str  # closed, open, half_open, or "unknown" when Redis did not answer
    slots_in_use: int | None
    slots: int
    four_eyes_above: Decimal | None


@dataclass(frozen=True)
class Overview:
    stats: Stats
    health: list[ProviderHealth]
    open_proposals: int

    @property
    def open_differences(self) -> int:
        return sum(sum(kinds.values()) for kinds in self.stats.open_differences.values())


def overview(ctx: Context) -> Overview:
    now = ctx.clock()
    with ctx.db.unit_of_work() as session:
        stats = collect_stats(session, now)
        waiting = proposals.count_waiting(session, now)
    return Overview(stats, [_health(ctx, name) for name in sorted(ctx.policies)], waiting)


def _health(ctx: Context, name: str) -> ProviderHealth:
    policy = ctx.policy(name)
    provider = ctx.providers.get(name)
    breaker, in_use = "unknown", None
    if isinstance(provider, GuardedProvider):
        with contextlib.suppress(redis.RedisError):  # unknown: a gap, not a made-up state
            breaker, in_use = provider.guard_state()
    return ProviderHealth(name, policy.deadline, breaker, in_use, policy.max_concurrency,
                          policy.four_eyes_above)


@dataclass(frozen=True)
class ReviewFilter:
    reason: str | None = None
    provider: str | None = None
    min_amount: Decimal | None = None
    max_amount: Decimal | None = None
    older_than_minutes: float | None = None


@dataclass(frozen=True)
class QueuedReview:
    review: ReviewView
    bet: BetView
    proposal: ProposalView | None


def review_queue(ctx: Context, wanted: ReviewFilter) -> list[QueuedReview]:
    now = ctx.clock()
    with ctx.db.unit_of_work() as session:
        reviews = list_reviews(session, include_resolved=False, reason=wanted.reason)
        if wanted.provider:
            reviews = [r for r in reviews if r.provider == wanted.provider]
        if wanted.older_than_minutes is not None:
            reviews = [r for r in reviews
                       if (now - r.opened_at).total_seconds() >= wanted.older_than_minutes * 60]
        bets = _bet_views(session, [r.bet_id for r in reviews])
    waiting = {(p.provider, p.bet_ref): p for p in approvals.listing(ctx, state="open")}
    queue = []
    for review in reviews:
        bet = bets[review.bet_id]
        if wanted.min_amount is not None and bet.stake < wanted.min_amount:
            continue
        if wanted.max_amount is not None and bet.stake > wanted.max_amount:
            continue
        queue.append(QueuedReview(review, bet, waiting.get((bet.provider, bet.bet_ref))))
    return queue[:PAGE]


def _bet_views(session: Any, bet_ids: Sequence[int]) -> dict[int, BetView]:
    if not bet_ids:
        return {}
    attempts = checks_started(session, bet_ids)
    rows = session.scalars(select(Bet).where(Bet.id.in_(list(set(bet_ids)))))
    return {bet.id: BetView.of(bet, attempts.get(bet.id, 0)) for bet in rows}


@dataclass(frozen=True)
class BetSearch:
    ref: str | None = None
    player: str | None = None
    round: str | None = None
    provider: str | None = None
    state: str | None = None
    placed_from: datetime | None = None
    placed_to: datetime | None = None

    @property
    def empty(self) -> bool:
        return all(value in (None, "") for value in vars(self).values())


def search(ctx: Context, wanted: BetSearch) -> list[BetView]:
    conditions: list[ColumnElement[bool]] = []
    if wanted.ref:
        conditions.append(Bet.bet_ref == wanted.ref)
    if wanted.player:
        conditions.append(Bet.player_id == wanted.player)
    if wanted.round:
        conditions.append(Bet.round_id == wanted.round)
    if wanted.provider:
        conditions.append(Bet.provider == wanted.provider)
    if wanted.state:
        conditions.append(Bet.state == wanted.state)
    if wanted.placed_from is not None:
        conditions.append(Bet.placed_at >= wanted.placed_from)
    if wanted.placed_to is not None:
        conditions.append(Bet.placed_at <= wanted.placed_to)
    query = select(Bet).where(*conditions).order_by(Bet.placed_at.desc(), Bet.id.desc())
    with ctx.db.unit_of_work() as session:
        bets = list(session.scalars(query.limit(PAGE)))
        attempts = checks_started(session, [bet.id for bet in bets])
        return [BetView.of(bet, attempts.get(bet.id, 0)) for bet in bets]


@dataclass(frozen=True)
class BetPage:
    """Everything a person needs to decide one bet."""

    story: BetStoryView
    open_reviews: list[ReviewView]
    last_answers: list[Any]
    facts: list[Fact]
    differences: list[ReconciliationDifference]
    notifications: list[Notification]
    proposals: list[ProposalView] = field(default_factory=list)

    @property
    def bet(self) -> BetView:
        return self.story.bet

    @property
    def open_proposal(self) -> ProposalView | None:
        return next((p for p in self.proposals if p.state == "open"), None)


def bet_page(ctx: Context, bet_id: int) -> BetPage:
    with ctx.db.unit_of_work() as session:
        story = bet_story(session, BetSelector(bet_id=bet_id))
        snapshot = repository.get(session, bet_id)
        assert snapshot is not None  # noqa: S101 - bet_story found it
        open_rows = repository.open_reviews(session, bet_id)
        facts = facts_about(session, snapshot, open_rows)
        differences = list(session.scalars(
            select(ReconciliationDifference).where(ReconciliationDifference.bet_id == bet_id)
            .order_by(ReconciliationDifference.id)))
        notes = list(session.scalars(select(Notification).where(Notification.bet_id == bet_id)
                                     .order_by(Notification.id)))
        session.expunge_all()
    answers = [e for e in story.events if e.kind in ANSWERS][-5:]
    open_reviews = [r for r in story.reviews if r.resolved_at is None]
    return BetPage(story, open_reviews, answers, facts, differences, notes,
                   approvals.of_bet(ctx, bet_id))


def differences(ctx: Context, *, show_all: bool) -> list[ReconciliationDifference]:
    query = select(ReconciliationDifference).order_by(ReconciliationDifference.id.desc())
    if not show_all:
        query = query.where(ReconciliationDifference.resolved_at.is_(None))
    with ctx.db.unit_of_work() as session:
        rows = list(session.scalars(query.limit(PAGE)))
        session.expunge_all()
    return rows


def dead_letters(ctx: Context) -> list[tuple[Notification, str | None]]:
    query = (select(Notification, Bet.provider, Bet.bet_ref)
             .outerjoin(Bet, Bet.id == Notification.bet_id)
             .where(Notification.state == NotificationState.DEAD.value)
             .order_by(Notification.id).limit(PAGE))
    with ctx.db.unit_of_work() as session:
        rows = [(n, f"{p}/{r}" if p else None) for n, p, r in session.execute(query)]
        session.expunge_all()
    return rows


def access_log(ctx: Context, account: str | None = None) -> list[AccessEvent]:
    with ctx.db.unit_of_work() as session:
        rows = account_store.access_log(session, account=account)
        session.expunge_all()
    return rows


def name_of(ctx: Context, bet_id: int) -> tuple[str, str]:
    """How the services name a bet (provider, reference), from its id in a path."""
    with ctx.db.unit_of_work() as session:
        bet = repository.get(session, bet_id)
    if bet is None:
        raise BetNotFound(f"no bet #{bet_id}")
    return bet.provider, bet.bet_ref


