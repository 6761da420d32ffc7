"""The broker's side of the state machine: delivering wake-ups (once, again, or while
something else happens to the bet), and the sweeps that send lost work again."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any, TypeVar

from betguard.services.checks import CheckOutcome, run_check
from betguard.services.context import Context
from betguard.services.refunds import RefundOutcome, run_refund
from betguard.services.results import ResultOutcome, report_result
from betguard.services.reviews import order_recheck
from betguard.services.sweeps import run_sweeps
from tests.property import expectations as expect
from tests.property.doubles import Call, Clock, Meddler, RecordingScheduler, Wakeup, WakeupKind
from tests.property.invariants import Knowledge
from tests.property.observe import Observation
from tests.property.tally import TALLY

T = TypeVar("T")
OPERATOR = "ops-prop"


@dataclass(frozen=True)
class PlacedBet:
    payload: dict[str, str]
    fate: str
    bet_id: int

    @property
    def provider(self) -> str:
        return self.payload["provider"]

    @property
    def ref(self) -> str:
        return self.payload["bet_ref"]


def choose(items: Sequence[T], pick: int) -> T:
    return items[pick % len(items)]


class Deliveries:
    """Mixed into the state machine, which sets these attributes up."""

    ctx: Context
    clock: Clock
    scheduler: RecordingScheduler
    meddler: Meddler
    known: Knowledge
    seen: Observation
    placed: list[PlacedBet]
    expected: list[expect.Expectation]
    lease: float
    grace: float

    def _wakeup(self, kind: WakeupKind, pick: int, again: bool) -> Wakeup:
        queued, delivered = self.scheduler.of(kind, "queued"), self.scheduler.of(kind, "delivered")
        return choose((delivered or queued) if again else (queued or delivered), pick)

    def _run(self, wakeup: Wakeup) -> CheckOutcome:
        self.clock.reach(wakeup.at)
        wakeup.status = "delivered"
        assert wakeup.attempt is not None
        outcome = run_check(self.ctx, wakeup.bet_id, wakeup.attempt)
        TALLY.outcomes[f"check {outcome}"] += 1
        return outcome

    def _run_refund(self, wakeup: Wakeup) -> RefundOutcome:
        self.clock.reach(wakeup.at)
        wakeup.status = "delivered"
        outcome = run_refund(self.ctx, wakeup.bet_id, wakeup.attempt)
        TALLY.outcomes[f"refund {outcome}"] += 1
        return outcome

    def _deliver_check(self, wakeup: Wakeup) -> None:
        before = self.seen.bets[wakeup.bet_id]
        stale = before.state != "pending" or before.check_attempt != wakeup.attempt
        outcome = self._run(wakeup)
        assert (outcome is CheckOutcome.STALE) == stale, f"{wakeup} of {before.label}: {outcome}"
        assert outcome is not CheckOutcome.SUPERSEDED, "nothing else ran meanwhile"
        if stale:
            self.expected.append(expect.a_stale_delivery_changed_nothing(before, self.seen))

    def _deliver_refund(self, wakeup: Wakeup) -> None:
        before = self.seen.bets[wakeup.bet_id]
        outcome = self._run_refund(wakeup)
        due = before.state == "refund_pending"
        assert outcome is (RefundOutcome.REFUNDED if due else RefundOutcome.STALE), outcome
        if due:
            self.expected.append(expect.in_state(before.id, "refunded", "the wallet refunded"))
        else:
            self.expected.append(expect.a_stale_refund_paid_nothing(before, self.seen))

    def _deliver_check_meddled(self, wakeup: Wakeup, meddle: str, call: Call) -> None:
        """``meddle`` happens while the check's status query (or its cancel request, at
        the deadline under a refund policy) is in flight."""
        before = self.seen.bets[wakeup.bet_id]
        nested: list[object] = []
        self.meddler.arm(lambda: nested.append(self._check_meddle(meddle, wakeup)), call)
        outcome = self._run(wakeup)
        if before.state != "pending" or before.check_attempt != wakeup.attempt:
            assert outcome is CheckOutcome.STALE and self.meddler.disarm()
            return
        if not nested:  # the check never asked to cancel
            assert call == "cancel" and self.meddler.disarm(), (outcome, call)
            assert outcome is not CheckOutcome.SUPERSEDED, "nothing else ran meanwhile"
            return
        TALLY.outcomes[f"meddled {call}: {meddle}"] += 1
        if meddle.startswith("report"):
            assert nested == [ResultOutcome.SETTLED], nested
        if meddle == "deliver_it_again":
            assert nested == [CheckOutcome.STALE], nested
        # A re-check ordered while the check is at the provider sends nothing (the check
        # in flight will answer); a duplicate delivery is stale: neither changes the bet.
        superseded = meddle not in ("deliver_it_again", "order_a_recheck")
        assert (outcome is CheckOutcome.SUPERSEDED) == superseded, (outcome, nested)

    def _deliver_refund_meddled(self, wakeup: Wakeup, meddle: str) -> None:
        before = self.seen.bets[wakeup.bet_id]
        nested: list[RefundOutcome] = []
        if meddle == "deliver_it_again":
            self.meddler.arm(lambda: nested.append(self._run_refund(wakeup)), "refund")
        else:
            self.meddler.arm(lambda: nested.extend(self._take_over(wakeup.bet_id, "refund")),
                             "refund")
        outcome = self._run_refund(wakeup)
        if before.state != "refund_pending":
            assert outcome is RefundOutcome.STALE and self.meddler.disarm()
            return
        TALLY.outcomes[f"meddled refund: {meddle}"] += 1
        # A duplicate delivered while the refund is at the wallet finds it claimed: stale
        # (it never calls the wallet at the same time); after the lease, another worker
        # takes over and gets the same refund back under the same key.
        again = RefundOutcome.STALE if meddle == "deliver_it_again" else RefundOutcome.REFUNDED
        assert [outcome, *nested] == [RefundOutcome.REFUNDED, again], (outcome, nested)

    def _check_meddle(self, meddle: str, wakeup: Wakeup) -> object:
        bet = next(b for b in self.placed if b.bet_id == wakeup.bet_id)
        meddles: dict[str, Callable[[], object]] = {
            "report_the_result": lambda: self._report(bet, self._payout(bet, True)),
            "report_another_result": lambda: self._report(bet, self._payout(bet, False)),
            "deliver_it_again": lambda: self._run(wakeup),
            "another_worker_takes_over": lambda: self._take_over(bet.bet_id, "check"),
            "order_a_recheck": lambda: self._order_recheck(bet),
        }
        return meddles[meddle]()

    def _take_over(self, bet_id: int, kind: str) -> list[Any]:
        """The lease runs out while a worker is still busy: the sweep sends the work
        again and another worker runs it at once."""
        self.clock.advance(self.lease + self.grace)
        fresh = [w for w in self._sweep() if w.bet_id == bet_id and w.kind == kind]
        assert fresh, f"the sweep did not send bet {bet_id}'s {kind} again"
        return [self._run(w) if kind == "check" else self._run_refund(w) for w in fresh]

    def _sweep(self) -> list[Wakeup]:
        first = len(self.scheduler.wakeups)
        run_sweeps(self.ctx)
        # The sweep's order among bets due at the same moment is the database's choice:
        # fix it, so the same steps always pick the same wake-ups.
        dispatched = sorted(self.scheduler.wakeups[first:], key=lambda w: (w.kind, w.bet_id))
        self.scheduler.wakeups[first:] = dispatched
        for seq, wakeup in enumerate(dispatched, start=first):
            wakeup.seq = seq
        lease_until = self.clock() + timedelta(seconds=self.lease)
        for wakeup in dispatched:
            self.known.leases.setdefault(wakeup.bet_id, set()).add(lease_until)
        return dispatched

    def _order_recheck(self, bet: PlacedBet) -> None:
        order_recheck(self.ctx, bet.provider, bet.ref, operator=OPERATOR)
        self.known.leases.setdefault(bet.bet_id, set()).add(self.clock())

    def _payout(self, bet: PlacedBet, matching: bool) -> Decimal:
        provider_says = self.known.provider_pays[bet.ref]
        if provider_says is None:
            return Decimal("7.77")
        return provider_says + (0 if matching else 1)

    def _report(self, bet: PlacedBet, payout: Decimal) -> ResultOutcome:
        self.known.reported.setdefault(bet.ref, set()).add(payout)
        outcome = report_result(self.ctx, bet.provider, bet.ref, payout=str(payout),
                                currency="EUR")
        TALLY.outcomes[f"result {outcome}"] += 1
        return outcome
