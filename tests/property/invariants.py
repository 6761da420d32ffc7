"""docs/design.md's invariants as checks of one observation (and the one before it).

Each check returns the problems it found, each naming the bet, so a failing step
says exactly what broke. The invariants a drill's audit checks too come from the
devkit's invariants module: one implementation for both.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from betguard.models.domain.states import ALLOWED, FINAL_STATES, BetState
from betguard.providers.wallet import refund_idempotency_key
from betguard_devkit.invariants import (
    FINAL_KINDS,
    dead_end,
    holds_refund,
    pays_as_said,
    refund_without_refunded_bet,
    refunds_per_bet,
    unrecorded,
)
from tests.property.observe import BetRow, EventRow, Observation

ENTERS = {"bet_settled": BetState.SETTLED, "refund_decided": BetState.REFUND_PENDING,
          "review_opened": BetState.IN_REVIEW, "bet_refunded": BetState.REFUNDED,
          "recheck_ordered": BetState.PENDING}
LEGAL = {state.value for state in BetState}


@dataclass
class Knowledge:
    """What the test itself did, which the database alone cannot tell."""

    placed: set[str] = field(default_factory=set)
    provider_pays: dict[str, Decimal | None] = field(default_factory=dict)  # the provider's result
    reported: dict[str, set[Decimal]] = field(default_factory=dict)  # by the game server
    decided: dict[str, set[Decimal]] = field(default_factory=dict)  # by an operator
    # next_check_at values that may lie past the deadline: a sweep's dispatch lease,
    # or "now" for a re-check an operator ordered on an overdue bet.
    leases: dict[int, set[datetime]] = field(default_factory=dict)


def check_all(before: Observation | None, now: Observation, known: Knowledge) -> list[str]:
    problems = [p for check in PER_BET for bet in now.bets.values() for p in check(bet, now, known)]
    problems += wallet_ledger_is_exact(now)
    problems += nothing_placed_is_missing(now, known)
    if before is not None:
        problems += [p for bet in before.bets.values() for p in history_moves_forward(bet, now)]
    return problems


def state_is_legal(bet: BetRow, now: Observation, known: Knowledge) -> list[str]:
    return [] if bet.state in LEGAL else [f"{bet.label}: not a legal state"]


def one_final_event_matching_the_state(bet: BetRow, now: Observation,
                                       known: Knowledge) -> list[str]:
    finals = Counter(e.kind for e in now.kinds(bet.id, *FINAL_KINDS))
    expected = {"settled": Counter(bet_settled=1), "refunded": Counter(bet_refunded=1)}
    if finals != expected.get(bet.state, Counter()):
        return [f"{bet.label}: final events {dict(finals)}"]
    return []


def history_explains_the_state(bet: BetRow, now: Observation, known: Knowledge) -> list[str]:
    """Replaying the state-changing events through the state table ends at the state."""
    events = now.events.get(bet.id, [])
    if not events or events[0].kind != "bet_placed":
        return [f"{bet.label}: history does not start with bet_placed"]
    state = BetState.PENDING
    for event in events[1:]:
        target = ENTERS.get(event.kind)
        if target is None or (target is state is BetState.PENDING):
            continue  # an ordered re-check of a pending bet changes no state
        if target not in ALLOWED[state]:
            return [f"{bet.label}: history goes {state} -> {target} by {event.kind}"]
        state = target
    return [] if state == bet.state else [f"{bet.label}: history ends in {state}"]


def reviews_match_the_state(bet: BetRow, now: Observation, known: Knowledge) -> list[str]:
    open_reviews = now.open_reviews(bet.id)
    if bet.state == "in_review" and not open_reviews:
        return [f"{bet.label}: in review without an open review"]
    if bet.state == "pending" and open_reviews:
        return [f"{bet.label}: pending with open reviews {open_reviews}"]
    return []


def next_check_fits_the_state(bet: BetRow, now: Observation, known: Knowledge) -> list[str]:
    at = bet.next_check_at
    if bet.state == "pending":
        if at is None:
            return [f"{bet.label}: pending with no next check"]
        if at > bet.deadline and at not in known.leases.get(bet.id, set()):
            return [f"{bet.label}: next check {at} after the deadline {bet.deadline}"]
    elif bet.state == "refund_pending":
        return [] if at is not None else [f"{bet.label}: refund pending, never retried"]
    elif at is not None:
        return [f"{bet.label}: a next check at {at}"]
    return []


def never_a_dead_end(bet: BetRow, now: Observation, known: Knowledge) -> list[str]:
    """Not final: a next check a sweep takes, or an open review (the drills' audit too)."""
    return dead_end(bet.label, bet.state, next_check=bet.next_check_at is not None,
                    open_reviews=len(now.open_reviews(bet.id)))


def checks_never_fork(bet: BetRow, now: Observation, known: Knowledge) -> list[str]:
    """Each attempt is claimed once, in order, and each claim asked the provider at most
    once and recorded what it heard."""
    started = [e.detail["attempt"] for e in now.kinds(bet.id, "check_started")]
    heard = now.kinds(bet.id, "provider_answered", "provider_error")
    problems = []
    if started != sorted(set(started)) or (started and started[-1] >= bet.check_attempt):
        problems.append(f"{bet.label}: attempts claimed {started}, next {bet.check_attempt}")
    if now.queries(bet) > len(started):
        problems.append(f"{bet.label}: {now.queries(bet)} provider queries, "
                        f"{len(started)} checks claimed")
    if len(heard) != len(started):
        problems.append(f"{bet.label}: {len(started)} checks claimed, {len(heard)} answers noted")
    return problems


def payout_is_explained(bet: BetRow, now: Observation, known: Knowledge) -> list[str]:
    if bet.state != "settled":
        return [] if bet.payout is None else [f"{bet.label}: a payout {bet.payout}"]
    settled = now.kinds(bet.id, "bet_settled")
    event = settled[-1] if settled else EventRow("", "", {"payout": None})
    if not pays_as_said(event.detail.get("payout"), bet.payout):
        return [f"{bet.label}: pays {bet.payout}, its bet_settled says {event.detail}"]
    return [] if bet.payout in _allowed_payouts(bet, event.actor, now, known) else [
        f"{bet.label}: pays {bet.payout}, settled by {event.actor} who never said so"]


def _allowed_payouts(bet: BetRow, actor: str, now: Observation,
                     known: Knowledge) -> set[Decimal]:
    if actor.startswith("provider:"):
        payout = known.provider_pays.get(bet.bet_ref)
        return set() if payout is None else {payout}
    if actor == "game-server":
        return known.reported.get(bet.bet_ref, set())
    return known.decided.get(bet.bet_ref, set())


def automatic_refunds_follow_proof(bet: BetRow, now: Observation,
                                   known: Knowledge) -> list[str]:
    """betguard refunds by itself only on proof that nothing will settle the bet: the
    provider's own "cancelled", or a cancel it accepted (which fences the reference).
    A "never saw it" (404) is no proof: providers register bets late."""
    problems, heard = [], None
    for event in now.events.get(bet.id, []):
        if event.kind in ("provider_answered", "cancel_answered"):
            heard = event
        elif event.kind in ("provider_error", "cancel_failed"):
            heard = None
        elif event.kind == "refund_decided" and event.actor == "betguard" and not (
                heard is not None and _proves_cancelled(heard)):
            problems.append(f"{bet.label}: refunded by betguard after "
                            f"{heard.detail if heard else 'no answer'}")
    return problems


def _proves_cancelled(event: EventRow) -> bool:
    if event.kind == "cancel_answered":
        return event.detail.get("accepted") is True
    return event.detail.get("status") == "cancelled"


def wallet_ledger_is_exact(now: Observation) -> list[str]:
    problems = []
    per_ref = refunds_per_bet(now.refunds.values())
    for key, refund in now.refunds.items():
        bet = now.by_ref(refund["bet_ref"])
        problems += refund_without_refunded_bet(refund["bet_ref"],
                                                None if bet is None else bet.state)
        if bet is not None and holds_refund(bet.state) and \
                key != refund_idempotency_key(bet.provider, bet.bet_ref):
            problems.append(f"{bet.label}: refunded under the key {key}")
        if per_ref[refund["bet_ref"]] > 1:
            problems.append(f"{refund['bet_ref']}: {per_ref[refund['bet_ref']]} refunds")
    for bet in now.bets.values():
        if bet.state == "refunded":
            key = refund_idempotency_key(bet.provider, bet.bet_ref)
            told = next((e.detail for e in now.kinds(bet.id, "bet_refunded")), {})
            paid = now.refunds.get(key)
            if paid is None or told.get("refund_id") != paid["refund_id"]:
                problems.append(f"{bet.label}: refunded per {told}, the wallet has {paid}")
    return problems


def nothing_placed_is_missing(now: Observation, known: Knowledge) -> list[str]:
    missing = unrecorded(known.placed, {bet.bet_ref for bet in now.bets.values()})
    return [f"placed but not recorded: {missing}"] if missing else []


def history_moves_forward(before: BetRow, now: Observation) -> list[str]:
    after = now.bets.get(before.id)
    if after is None:
        return [f"{before.label}: gone"]
    problems = []
    if after.version < before.version or (after.state != before.state
                                          and after.version == before.version):
        problems.append(f"{before.label}: version {before.version} -> {after.version}, "
                        f"now {after.state}")
    if BetState(before.state) in FINAL_STATES and (
            (after.state, after.payout, after.final_at)
            != (before.state, before.payout, before.final_at)):
        problems.append(f"{before.label}: final, became {after.state} paying {after.payout}")
    return problems


PER_BET: list[Callable[[BetRow, Observation, Knowledge], list[str]]] = [
    state_is_legal, one_final_event_matching_the_state, history_explains_the_state,
    reviews_match_the_state, next_check_fits_the_state, never_a_dead_end, checks_never_fork,
    payout_is_explained, automatic_refunds_follow_proof,
]
