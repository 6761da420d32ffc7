"""An independent audit of a run: every bet against the database's invariants, the
provider's truth and the wallet's ledger. It reads; it never changes anything.

The invariants the property tests check too come from invariants.py."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from betguard.models.domain.events import EventKind
from betguard.models.domain.outbox import NotificationState
from betguard.models.domain.states import BetState
from betguard.models.store.tables import AuditEvent, Bet, Notification, Review
from betguard.providers.wallet import refund_idempotency_key
from betguard_devkit.invariants import (
    FINAL_KINDS,
    UNFINISHED,
    dead_end,
    holds_refund,
    pays_as_said,
    refund_without_refunded_bet,
    unrecorded,
)

EXAMPLES = 5


@dataclass
class Check:
    name: str
    description: str
    failures: list[str] = field(default_factory=list)
    checked: int = 0

    @property
    def passed(self) -> bool:
        return not self.failures

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "failures": len(self.failures),
                "examples": self.failures[:EXAMPLES], "passed": self.passed}


@dataclass(frozen=True)
class AuditReport:
    checks: list[Check]
    states: dict[str, int]

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    def as_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "states": self.states,
                "checks": [check.as_dict() for check in self.checks]}


@dataclass(frozen=True)
class BetRow:
    id: int
    provider: str
    bet_ref: str
    state: str
    payout: Decimal | None
    deadline: datetime


Prefixes = str | tuple[str, ...]


def merge_truths(truths: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """One truth from several simulators (one per provider dialect): their bets, refunds
    and counts together. References differ between providers, so nothing collides."""
    merged: dict[str, Any] = {"bets": {}, "refunds": {}, "counts": Counter()}
    for truth in truths:
        merged["bets"].update(truth.get("bets", {}))
        merged["refunds"].update(truth.get("refunds", {}))
        merged["counts"].update(truth.get("counts", {}))
    merged["counts"] = dict(merged["counts"])
    return merged


def ours(column: Any, prefix: Prefixes) -> ColumnElement[bool]:
    """References starting with ``prefix`` (or any of several: providers word their
    references differently, so a run's bets may carry one prefix per provider kind)."""
    prefixes = (prefix,) if isinstance(prefix, str) else prefix
    return or_(*(column.startswith(p, autoescape=True) for p in prefixes))


def audit(session: Session, truth: Mapping[str, Any], *, now: datetime, slack: timedelta,
          prefix: Prefixes = "") -> AuditReport:
    """Audit the bets whose reference starts with ``prefix`` (or one of several) against
    ``truth`` (the simulators' report: what the providers decided for each bet, the
    wallet's refunds, including those the providers pushed themselves). ``slack`` is how
    long past its deadline a bet may still be open (a sweep interval)."""
    starts = (prefix,) if isinstance(prefix, str) else prefix
    bets = _bets(session, prefix)
    final_events = _final_events(session, prefix)
    refunds = [r for r in truth["refunds"].values() if r["bet_ref"].startswith(starts)]
    placed = [ref for ref in truth["bets"] if ref.startswith(starts)]
    checks = [
        _nothing_lost(bets, placed, now, slack),
        _payouts_match(bets, truth["bets"], _operator_settled(session, prefix)),
        _one_refund_per_refunded_bet(bets, refunds),
        _no_refund_of_a_settled_bet(bets, truth["bets"]),
        _no_refund_without_refunded_bet(bets, refunds),
        _no_second_final_event(final_events),
        _no_dead_end(session, prefix),
        _notifications_done(session, prefix, now, slack),
    ]
    return AuditReport(checks, dict(Counter(b.state for b in bets.values())))


def _bets(session: Session, prefix: Prefixes) -> dict[str, BetRow]:
    rows = session.execute(
        select(Bet.id, Bet.provider, Bet.bet_ref, Bet.state, Bet.payout, Bet.deadline)
        .where(ours(Bet.bet_ref, prefix)))
    return {row.bet_ref: BetRow(*row) for row in rows}


def _final_events(session: Session, prefix: Prefixes) -> dict[str, int]:
    rows = session.execute(
        select(Bet.bet_ref, func.count()).join(AuditEvent, AuditEvent.bet_id == Bet.id)
        .where(ours(Bet.bet_ref, prefix), AuditEvent.kind.in_(FINAL_KINDS))
        .group_by(Bet.bet_ref))
    return {ref: count for ref, count in rows}


def _operator_settled(session: Session, prefix: Prefixes) -> set[str]:
    rows = session.scalars(
        select(Bet.bet_ref).join(AuditEvent, AuditEvent.bet_id == Bet.id)
        .where(ours(Bet.bet_ref, prefix),
               AuditEvent.kind == EventKind.BET_SETTLED.value,
               AuditEvent.actor.startswith("operator:")))
    return set(rows)


def _nothing_lost(bets: Mapping[str, BetRow], placed: Iterable[str], now: datetime,
                  slack: timedelta) -> Check:
    check = Check("nothing lost", "every placed bet is recorded, and final, in review, or "
                  "open but within its deadline plus one sweep interval")
    placed = list(placed)
    check.checked = len(placed)
    check.failures += [f"{ref}: placed but never recorded" for ref in unrecorded(placed, bets)]
    for ref in placed:
        bet = bets.get(ref)
        if bet is not None and bet.state in (BetState.PENDING, BetState.REFUND_PENDING) and \
                now > bet.deadline + slack:
            check.failures.append(f"{bet.provider}/{ref}: still {bet.state} past its deadline")
    return check


def _payouts_match(bets: Mapping[str, BetRow], facts: Mapping[str, Any],
                   by_operator: set[str]) -> Check:
    check = Check("payouts match the provider", "each bet settled from the provider's or "
                  "game server's result pays what the provider decided")
    for ref, bet in bets.items():
        fact = facts.get(ref)
        if bet.state != BetState.SETTLED or ref in by_operator or fact is None:
            continue
        check.checked += 1
        if not pays_as_said(fact.get("payout"), bet.payout):
            check.failures.append(f"{bet.provider}/{ref}: paid {bet.payout}, provider says "
                                  f"{fact.get('payout')} ({fact.get('status_now')})")
    return check


def _one_refund_per_refunded_bet(bets: Mapping[str, BetRow],
                                 refunds: list[dict[str, Any]]) -> Check:
    check = Check("one refund per refunded bet", "each refunded bet has exactly one refund "
                  "in the wallet's ledger: under the key derived from the bet, or the "
                  "provider's own rollback (then betguard's refund paid nothing)")
    by_ref: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for refund in refunds:
        by_ref[refund["bet_ref"]].append(refund)
    for ref, bet in bets.items():
        if bet.state != BetState.REFUNDED:
            continue
        check.checked += 1
        found = by_ref.get(ref, [])
        key = refund_idempotency_key(bet.provider, ref)
        by_provider = len(found) == 1 and found[0].get("by") == "provider"
        if len(found) != 1 or (found[0].get("idempotency_key", key) != key and not by_provider):
            check.failures.append(f"{bet.provider}/{ref}: {len(found)} refunds in the ledger")
    return check


def _no_refund_of_a_settled_bet(bets: Mapping[str, BetRow], facts: Mapping[str, Any]) -> Check:
    check = Check("no refund of a bet the provider settled", "no bet the provider settled "
                  "(say, once it registered the bet late) was refunded: paid twice")
    for ref, bet in bets.items():
        fact = facts.get(ref)
        if fact is None or not fact.get("settled"):
            continue
        check.checked += 1
        if holds_refund(bet.state):
            check.failures.append(f"{bet.provider}/{ref}: {bet.state}, and the provider settled "
                                  f"it paying {fact.get('settled_payout')}")
    return check


def _no_refund_without_refunded_bet(bets: Mapping[str, BetRow],
                                    refunds: list[dict[str, Any]]) -> Check:
    check = Check("no refund without a refunded bet", "the wallet paid back no stake for a "
                  "bet betguard does not hold as refunded (or refund in progress)")
    for refund in refunds:
        check.checked += 1
        bet = bets.get(refund["bet_ref"])
        check.failures += refund_without_refunded_bet(refund["bet_ref"],
                                                      None if bet is None else bet.state)
    return check


def _no_second_final_event(final_events: Mapping[str, int]) -> Check:
    check = Check("decided once", "no bet was settled or refunded twice")
    for ref, count in final_events.items():
        check.checked += 1
        if count > 1:
            check.failures.append(f"{ref}: {count} final events")
    return check


def _no_dead_end(session: Session, prefix: Prefixes) -> Check:
    check = Check("no dead end", "every unfinished bet has a next check a sweep takes, or "
                  "an open review for a person")
    open_reviews = (select(Review.bet_id, func.count().label("open"))
                    .where(Review.resolved_at.is_(None)).group_by(Review.bet_id).subquery())
    rows = session.execute(
        select(Bet.provider, Bet.bet_ref, Bet.state, Bet.next_check_at.is_not(None),
               func.coalesce(open_reviews.c.open, 0))
        .outerjoin(open_reviews, open_reviews.c.bet_id == Bet.id)
        .where(ours(Bet.bet_ref, prefix), Bet.state.in_([s.value for s in UNFINISHED])))
    for provider, ref, state, next_check, reviews in rows:
        check.checked += 1
        check.failures += dead_end(f"{provider}/{ref}", state, next_check=next_check,
                                   open_reviews=reviews)
    return check


def _notifications_done(session: Session, prefix: Prefixes, now: datetime,
                        slack: timedelta) -> Check:
    check = Check("notifications delivered", "every notification was delivered or "
                  "dead-lettered (or is still within its retry window)")
    rows = session.execute(
        select(Bet.bet_ref, Notification.event_id, Notification.state,
               Notification.next_attempt_at)
        .join(Bet, Bet.id == Notification.bet_id)
        .where(ours(Bet.bet_ref, prefix)))
    for ref, event_id, state, next_attempt_at in rows:
        check.checked += 1
        overdue = next_attempt_at is None or now > next_attempt_at + slack
        if state == NotificationState.PENDING and overdue:
            check.failures.append(f"{ref}: notification {event_id} neither delivered nor dead")
    return check
