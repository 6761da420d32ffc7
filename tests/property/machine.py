"""The bet lifecycle as a hypothesis state machine. Hypothesis plays the game server,
the broker (which wake-up is delivered when, how often, which are lost), the clock and
the ops team; the services run for real in this process, on a real PostgreSQL database
and against the real simulator over HTTP."""

from __future__ import annotations

import dataclasses
import secrets
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)
from sqlalchemy import text

from betguard.models.domain.errors import ConflictingBet, IllegalTransition
from betguard.models.domain.events import Resolution
from betguard.services.intake import place_bet
from betguard.services.results import ResultOutcome
from betguard.services.reviews import Resolve, order_recheck, resolve_review
from tests.integration.harness import bet_payload
from tests.property import expectations as expect
from tests.property.conftest import World
from tests.property.deliveries import OPERATOR, Deliveries, PlacedBet, choose
from tests.property.doubles import (
    Call,
    Clock,
    MeddledProvider,
    MeddledWallet,
    Meddler,
    RecordingScheduler,
)
from tests.property.invariants import Knowledge, check_all
from tests.property.liveness import decide_every_review, drain
from tests.property.observe import Observation, Observer, SimWatcher
from tests.property.tally import TALLY

RUN = secrets.token_hex(3)  # refs are unique per run too: the simulator is shared
TABLES = "bets, audit_events, reviews, notifications, sweep_stats"
# Policies: a person decides at the deadline (3 s), a refund at the deadline (3 s), a
# refund after 600 s. Listed first, and so the simplest, is the path with most steps.
PROVIDERS = st.sampled_from(["reviewer", "refunder", "reviewer", "patient"])
# "foreign": the provider settles the bet in another currency, an answer that fits no bet.
# "unknown": the provider never saw the bet (404), but a cancel fences it (a tombstone);
# "ghost": never saw it, and its cancel answers 404 too: nothing fences it.
FATES = st.sampled_from(["never", "returned", "never", "unknown", "delayed", "foreign",
                         "ghost"])
STAKES = st.sampled_from(["10.00", "2.50", "120.00"])
# What the provider will pay. Given, not drawn by the simulator, and "delayed" bets have no
# delay: the simulator's delays run on real time, and hypothesis needs every run of the
# same steps to behave the same (else its replays are flaky).
PAYOUTS = st.sampled_from(["0.00", "15.00"])
PICKS = st.integers(min_value=0, max_value=999)
# What may happen while a check's provider call is in flight (None: nothing).
CHECK_MEDDLES = st.sampled_from([
    None, "report_the_result", "report_another_result", "deliver_it_again",
    "another_worker_takes_over", "order_a_recheck",
])
REFUND_MEDDLES = st.sampled_from([None, "deliver_it_again", "another_worker_takes_over"])
# What an operator decides. The ways out of a refund the wallet rejected (retry_refund,
# refunded_outside) need a wallet that rejects, which this machine does not play.
RESOLUTIONS = st.sampled_from([Resolution.SETTLED, Resolution.REFUNDED, Resolution.RECHECK,
                               Resolution.ACKNOWLEDGED])


class BetLifecycle(Deliveries, RuleBasedStateMachine):
    """One example: a fresh database, its own bet references, a clock starting now."""

    def __init__(self, world: World) -> None:
        super().__init__()
        TALLY.examples += 1
        self.world, self.busy, self.draining = world, False, False
        self.prefix = f"prop-{RUN}-{TALLY.examples}-"
        with world.db.engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
        self.clock = Clock(datetime.now(UTC))
        self.scheduler = RecordingScheduler(world.db)
        self.meddler = Meddler(world.db)
        base = world.context
        self.ctx = dataclasses.replace(
            base, scheduler=self.scheduler, clock=self.clock, draw=lambda: 0.5, notifier=None,
            providers={n: MeddledProvider(p, self.meddler) for n, p in base.providers.items()},
            wallet=MeddledWallet(base.wallet, self.meddler))
        self.lease, self.grace = self.ctx.timing.check_lease, self.ctx.timing.due_grace
        self.placed: list[PlacedBet] = []
        self.known = Knowledge()
        self.expected: list[expect.Expectation] = []
        self.observer = Observer(world.db, SimWatcher(world.sim, self.prefix))
        self.seen: Observation = self._observe()

    # -- the game server -------------------------------------------------------------------
    @initialize(bets=st.lists(st.tuples(PROVIDERS, FATES, STAKES, PAYOUTS), min_size=1,
                              max_size=4), overdue=st.booleans())
    def place_some_bets(self, bets: list[tuple[str, str, str, str]], overdue: bool) -> None:
        """Start with a few bets; when ``overdue``, with their deadlines past and every
        one decided or in review (so the ops team has work from the first step)."""
        for provider, fate, stake, payout in bets:
            self.place_a_new_bet(provider, fate, stake, payout)
        if overdue:
            self.let_everything_catch_up()

    @rule(provider=PROVIDERS, fate=FATES, stake=STAKES, payout=PAYOUTS)
    def place_a_new_bet(self, provider: str, fate: str, stake: str, payout: str) -> None:
        self._step("place_a_new_bet")
        ref = f"{self.prefix}{len(self.placed) + 1}"
        currency, sim_fate = ("USD", "returned") if fate == "foreign" else ("EUR", fate)
        sim_fate = "unknown" if fate == "ghost" else sim_fate
        self.world.sim("POST", "/_sim/bets", {"bet_ref": ref, "stake": stake, "currency": currency,
                                              "fate": sim_fate, "payout": payout, "delay": 0,
                                              "fenceable": fate != "ghost"})
        placed = place_bet(self.ctx, bet_payload(provider, ref, stake))
        assert placed.created, f"{ref} was new"
        self.placed.append(PlacedBet(bet_payload(provider, ref, stake), fate, placed.bet.id))
        self.known.placed.add(ref)
        self.known.provider_pays[ref] = None if fate in ("never", "unknown", "ghost") else \
            Decimal(payout)

    @precondition(lambda self: self.placed)
    @rule(pick=PICKS, change=st.sampled_from([None, "stake", "player_id"]))
    def place_the_same_bet_again(self, pick: int, change: str | None) -> None:
        self._step("place_the_same_bet_again")
        bet, published = choose(self.placed, pick), len(self.scheduler.wakeups)
        payload = dict(bet.payload)
        if change is None:
            placed = place_bet(self.ctx, payload)
            assert (placed.created, placed.bet.id) == (False, bet.bet_id)
        else:
            payload[change] = {"stake": "99.99", "player_id": "player-2"}[change]
            with pytest.raises(ConflictingBet) as refused:
                place_bet(self.ctx, payload)
            assert refused.value.fields == [change]
        assert len(self.scheduler.wakeups) == published, "placing again woke a check"

    @precondition(lambda self: self.placed)
    @rule(pick=PICKS, matching=st.booleans())
    def report_a_result(self, pick: int, matching: bool) -> None:
        self._step("report_a_result")
        bet = choose(self.placed, pick)
        row, payout = self.seen.bets[bet.bet_id], self._payout(bet, matching)
        outcome = self._report(bet, payout)
        expected = expect.result_outcome(row, payout, self.seen.open_reviews(bet.bet_id))
        assert outcome == expected, f"{row.label} reported {payout}"
        if outcome is ResultOutcome.CONFLICT:
            self.expected.append(expect.reviews_open(bet.bet_id, "conflict", "a late result"))

    # -- the broker ------------------------------------------------------------------------
    @precondition(lambda self: self.scheduler.queued())
    @rule()
    def deliver_the_next_wakeup(self) -> None:
        """The broker's ordinary day: the earliest queued wake-up arrives, once."""
        self._step("deliver_the_next_wakeup")
        wakeup = min(self.scheduler.queued(), key=lambda w: (w.at, w.seq))
        if wakeup.kind == "check":
            self._deliver_check(wakeup)
        else:
            self._deliver_refund(wakeup)

    @precondition(lambda self: self.scheduler.of("check", "queued", "delivered"))
    @rule(pick=PICKS, again=st.booleans(), meddle=CHECK_MEDDLES,
          during=st.sampled_from(["status", "cancel"]))
    def deliver_a_check(self, pick: int, again: bool, meddle: str | None,
                        during: Call) -> None:
        """Deliver a queued check, or one delivered before (a duplicate, or stale by now),
        possibly while something else happens to the bet ``during`` a provider call."""
        self._step("deliver_a_check")
        wakeup = self._wakeup("check", pick, again)
        if meddle is None:
            self._deliver_check(wakeup)
        else:
            self._deliver_check_meddled(wakeup, meddle, during)

    @precondition(lambda self: self.scheduler.of("refund", "queued", "delivered"))
    @rule(pick=PICKS, again=st.booleans(), meddle=REFUND_MEDDLES)
    def deliver_a_refund(self, pick: int, again: bool, meddle: str | None) -> None:
        """Deliver a queued refund or one delivered before, possibly while another worker
        runs the same refund."""
        self._step("deliver_a_refund")
        wakeup = self._wakeup("refund", pick, again)
        if meddle is None:
            self._deliver_refund(wakeup)
        else:
            self._deliver_refund_meddled(wakeup, meddle)

    @precondition(lambda self: self.scheduler.queued())
    @rule(pick=PICKS)
    def lose_a_wakeup(self, pick: int) -> None:
        self._step("lose_a_wakeup")
        choose(self.scheduler.queued(), pick).status = "lost"

    @rule()
    def run_the_sweeps(self) -> None:
        self._step("run_the_sweeps")
        dispatched = self._sweep()
        problems = expect.sweep_took_what_was_due(self.seen, self.clock(), self.grace, {
            (w.kind, w.bet_id, w.attempt) for w in dispatched})
        assert not problems, problems

    @precondition(lambda self: any(b.state in ("pending", "refund_pending")
                                   for b in self.seen.bets.values()))
    @rule()
    def let_everything_catch_up(self) -> None:
        """A quiet night: time passes every deadline, the sweeps and the workers catch up
        with all the work in the broker, and no bet is left open."""
        self._step("let_everything_catch_up")
        drain(self)

    @rule(seconds=st.sampled_from([0.25, 1.0, 3.5, 7.0, 650.0]))
    def advance_the_clock(self, seconds: float) -> None:
        self._step("advance_the_clock")
        self.clock.advance(seconds)

    # -- the ops team ----------------------------------------------------------------------
    @precondition(lambda self: any(self.seen.open_reviews(b) for b in self.seen.bets))
    @rule(pick=PICKS, with_review=st.booleans(), resolution=RESOLUTIONS,
          fitting=st.booleans(), payout=st.sampled_from(["0.00", "12.34", "provider"]))
    def resolve_a_review(self, pick: int, with_review: bool, resolution: Resolution,
                         fitting: bool, payout: str) -> None:
        """An operator decides on a bet with an open review (or, by mistake, on any bet);
        ``fitting`` keeps the decision to one the bet's state allows."""
        self._step("resolve_a_review")
        reviewed = [b for b in self.placed if self.seen.open_reviews(b.bet_id)]
        bet = choose(reviewed if with_review else self.placed, pick)
        row = self.seen.bets[bet.bet_id]
        if fitting:
            resolution = expect.fitting_resolution(row, resolution)
        amount = self._payout(bet, True) if payout == "provider" else Decimal(payout)
        reviews = self.seen.open_reviews(row.id)
        if fitting:
            resolution, amount = expect.respecting_the_facts(resolution, amount, reviews)
        settled_with = amount if resolution is Resolution.SETTLED else None
        command = Resolve(bet.provider, bet.ref, resolution, OPERATOR, "property test decides",
                          payout=settled_with)
        allowed = expect.resolution_allowed(row, resolution, bool(reviews)) and not \
            expect.against_the_facts(resolution, settled_with, reviews)
        if not allowed:
            with pytest.raises(IllegalTransition):
                resolve_review(self.ctx, command)
            TALLY.outcomes["review resolution refused"] += 1
            return
        self.known.decided.setdefault(bet.ref, set()).add(amount)
        resolved = resolve_review(self.ctx, command)
        TALLY.outcomes[f"review resolved: {resolution}"] += 1
        assert resolved.state.value == expect.state_after_resolution(row, resolution)
        self.expected.append(expect.reviews_open(bet.bet_id, None, f"resolving: {resolution}"))

    @precondition(lambda self: self.placed)
    @rule(pick=PICKS)
    def order_a_recheck(self, pick: int) -> None:
        self._step("order_a_recheck")
        bet = choose(self.placed, pick)
        if self.seen.bets[bet.bet_id].state != "pending":
            with pytest.raises(IllegalTransition):
                order_recheck(self.ctx, bet.provider, bet.ref, operator=OPERATOR)
            return
        self._order_recheck(bet)

    # -- after every step, and at the end --------------------------------------------------
    @invariant()
    def every_invariant_holds(self) -> None:
        now = self._observe()
        problems = check_all(self.seen, now, self.known)
        problems += [p for expectation in self.expected for p in expectation(now)]
        problems += self.scheduler.problems + self.meddler.problems
        self.expected.clear()
        assert not problems, "\n".join(problems)
        self.seen = now
        if not self.draining:  # a catching-up step is not over yet
            self.busy = False

    def teardown(self) -> None:
        """Nothing is lost: sweeps, every wake-up delivered and time past every deadline
        leave each bet settled, refunded or in review; and so again once the ops team
        has decided every review."""
        if self.busy:
            return  # a step failed; its own error is the report
        drain(self)
        decide_every_review(self)
        drain(self)
        for bet in self.seen.bets.values():
            TALLY.outcomes[f"ended {bet.state}"] += 1

    # -- helpers ---------------------------------------------------------------------------
    def _step(self, name: str) -> None:
        if self.draining:
            TALLY.rules[f"catching up: {name}"] += 1
            return
        TALLY.steps += 1
        TALLY.rules[name] += 1
        self.busy = True

    def _observe(self) -> Observation:
        return self.observer.observe()
