"""The simulator's truth: bets and their fates (in :mod:`betguard_devkit.simulator.book`),
refunds, faults, counts and a request log.

Pure Python and thread-safe: the HTTP server is threaded, so every read and
write of the truth happens under one lock, and nothing sleeps while holding it.
All random choices come from one seeded ``random.Random`` so a run can be
repeated.
"""

from __future__ import annotations

import gc
import random
import threading
import time
from array import array
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from betguard_devkit.simulator.book import BetBook
from betguard_devkit.simulator.inputs import (
    MALFORMED,
    BetSpec,
    Fault,
    FaultRequest,
    RefundRequest,
    money,
)
from betguard_devkit.simulator.knobs import Knobs
from betguard_devkit.simulator.records import Refund

T = TypeVar("T")

LOG_CAPACITY = 1_000_000
COUNT_KINDS = ("status", "batch", "cancel", "refund", "faults_injected", "unauthorized")
# From this many bets registered at once, what lives now is frozen out of the collector.
FREEZE_FROM = 100


class SimState:
    """Everything the simulator knows, guarded by one lock."""

    def __init__(
        self,
        *,
        seed: int | None = None,
        knobs: Knobs | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._lock = threading.Lock()
        self._seed = seed
        self._clock = clock
        self._started_at = clock()
        self._knobs = knobs or Knobs()
        # Plain tuples (time, method, path, number), which the garbage collector stops
        # tracking: with a million tracked entries each full collection paused the
        # simulator for 0.17 s on an idle core (0.02 s as tuples), and requests arriving
        # meanwhile were stamped late, together.
        self._log: deque[tuple[float, str, str, int]] = deque(maxlen=LOG_CAPACITY)
        self._statuses = array("H", bytes(2 * LOG_CAPACITY))  # by number % capacity
        self._logged = 0
        self._clear()

    def _clear(self) -> None:
        self._rng = random.Random(self._seed)
        self._book = BetBook(self._rng)
        self._refunds: dict[str, Refund] = {}
        self._refund_requests: dict[str, int] = {}
        self._paid: dict[tuple[str, str], str] = {}  # (provider, bet_ref) -> key that paid
        self._refusals: dict[str, dict[str, Any]] = {}  # keys refused: the bet was paid back
        self._counts = dict.fromkeys(COUNT_KINDS, 0)
        self._faults: dict[str | None, deque[Fault]] = {}
        self._log.clear()

    def reset(self) -> None:
        """Back to a just-started simulator, except the knobs."""
        with self._lock:
            self._clear()

    # -- knobs -------------------------------------------------------------

    @property
    def knobs(self) -> Knobs:
        return self._knobs

    def update_knobs(self, changes: object) -> Knobs:
        """Validate and apply a partial change; raises ``KnobError`` naming the bad key."""
        with self._lock:
            self._knobs = self._knobs.updated(changes)
            return self._knobs

    # -- bets --------------------------------------------------------------

    def register(self, specs: Iterable[BetSpec]) -> list[tuple[bool, dict[str, Any]]]:
        """Decide each new bet's fate; a known ref keeps its first decision."""
        with self._lock:
            now = self._clock()
            results = [self._book.register(spec, now, self._knobs) for spec in specs]
        if len(results) >= FREEZE_FROM:
            # Registered bets live as long as the simulator: out of the collector's reach,
            # a full collection no longer walks them (over 100,000 bets it paused every
            # thread 0.12 s, and requests arriving meanwhile were stamped late, together).
            gc.freeze()
        return results

    def status(self, ref: str) -> tuple[int, dict[str, Any]]:
        """``GET /bets/<ref>``: the status object, or 404 when the provider does not know it."""
        with self._lock:
            return self._book.status(ref, self._clock())

    def statuses(self, refs: list[str]) -> tuple[int, dict[str, Any]]:
        """``POST /bets/status``: the known bets' statuses and the refs not known."""
        with self._lock:
            return self._book.statuses(refs, self._clock())

    def cancel(self, ref: str) -> tuple[int, dict[str, Any]]:
        """Cancel a pending bet for good (a bet not known yet: by a tombstone); a bet with
        a result answers 409 with it."""
        with self._lock:
            return self._book.cancel(ref, self._clock(), self._knobs)

    def read(self, view: Callable[[BetBook, float, Knobs], T]) -> T:
        """Run ``view`` on the book under the lock, with the time and the knobs: how the
        foreign dialects (:mod:`betguard_devkit.simulator.dialects`) read the truth."""
        with self._lock:
            return view(self._book, self._clock(), self._knobs)

    def count(self, kind: str, refs: Iterable[str] = ()) -> None:
        """Count a request that reached an endpoint, and the bets it concerned."""
        with self._lock:
            self._counts[kind] += 1
            for ref in refs:
                bet = self._book.bets.get(ref)
                if bet is None:
                    continue
                if kind == "cancel":
                    bet.cancels += 1
                else:
                    bet.queries += 1
                    if kind == "batch":
                        bet.batched_queries += 1

    def other_ref(self, ref: str) -> str:
        """Another bet's reference, for answers about the wrong bet."""
        with self._lock:
            for candidate in self._book.bets:
                if candidate != ref:
                    return candidate
        return f"{ref}-other"

    # -- faults ------------------------------------------------------------

    def queue_fault(self, request: FaultRequest) -> int:
        """Queue a fault for the next responses about a ref (``None``: the wallet)."""
        with self._lock:
            queue = self._faults.setdefault(request.bet_ref, deque())
            queue.extend([request.fault] * request.times)
            return len(queue)

    def take_outage(self) -> bool:
        """Whether the provider is down right now (counted as an injected fault)."""
        with self._lock:
            down = self._knobs.in_outage(self._clock() - self._started_at)
            if down:
                self._counts["faults_injected"] += 1
            return down

    def next_provider_fault(self, refs: Iterable[str]) -> Fault | None:
        """A queued fault for one of ``refs``, else a random one per the knobs."""
        with self._lock:
            fault = self._pop_queued(refs)
            if fault is None:
                fault = self._draw_provider_fault()
            return self._counted(fault)

    def next_wallet_fault(self) -> Fault | None:
        with self._lock:
            fault = self._pop_queued([None])
            if fault is None:
                k = self._knobs
                fault = self._draw(
                    [(k.wallet_error_rate, Fault.ERROR_503), (k.wallet_timeout_rate, Fault.TIMEOUT)]
                )
            return self._counted(fault)

    def _counted(self, fault: Fault | None) -> Fault | None:
        if fault is not None:
            self._counts["faults_injected"] += 1
        return fault

    def _pop_queued(self, keys: Iterable[str | None]) -> Fault | None:
        for key in keys:
            queue = self._faults.get(key)
            if queue:
                return queue.popleft()
        return None

    def _draw_provider_fault(self) -> Fault | None:
        k = self._knobs
        fault = self._draw(
            [
                (k.error_rate, Fault.ERROR_503),
                (k.timeout_rate, Fault.TIMEOUT),
                (k.malformed_rate, Fault.NOT_JSON),
                (k.bad_signature_rate, Fault.BAD_SIGNATURE),
            ]
        )
        if fault is Fault.NOT_JSON:  # stands for "some malformed answer"
            fault = self._rng.choice(MALFORMED)
        return fault

    def _draw(self, chances: list[tuple[float, Fault]]) -> Fault | None:
        for rate, fault in chances:
            if rate > 0 and self._rng.random() < rate:
                return fault
        return None

    # -- wallet ------------------------------------------------------------

    def count_refund_request(self, key: str) -> None:
        with self._lock:
            self._refund_requests[key] = self._refund_requests.get(key, 0) + 1

    def refund(self, request: RefundRequest) -> tuple[int, dict[str, Any]]:
        """Pay a bet's stake back once, whoever asks (betguard or the provider's rollback).

        A replay of a key gets the first answer back; a key reused for another payload
        answers 409. A new key for a bet whose stake was paid back already (under another
        key: the provider's rollback, or betguard's refund) pays nothing and answers 409
        "already refunded", naming the first refund and who asked for it.
        """
        with self._lock:
            known = self._refunds.get(request.idempotency_key)
            if known is not None:
                if known.request == request:
                    return 200, dict(known.answer)
                return 409, {"error": "idempotency key reused with a different payload"}
            paid_under = self._paid.get((request.provider, request.bet_ref))
            if paid_under is not None:
                return 409, self._refused(request, self._refunds[paid_under])
            answer = {
                "refund_id": f"rf-{len(self._refunds) + 1}",
                "idempotency_key": request.idempotency_key,
                "bet_ref": request.bet_ref,
                "amount": money(request.amount),
                "currency": request.currency,
                "status": "refunded",
            }
            if request.by != "betguard":
                answer["by"] = request.by
            self._refunds[request.idempotency_key] = Refund(request, answer)
            self._paid[(request.provider, request.bet_ref)] = request.idempotency_key
            if request.by == "provider":
                self._roll_back(request.bet_ref)
            return 201, dict(answer)

    def _refused(self, request: RefundRequest, first: Refund) -> dict[str, Any]:
        """The answer to a second refund of one bet, remembered for the truth."""
        refused = self._refusals.setdefault(request.idempotency_key, {
            "bet_ref": request.bet_ref, "provider": request.provider, "by": request.by,
            "amount": money(request.amount), "currency": request.currency,
            "refund_id": first.answer["refund_id"], "refunded_by": first.request.by,
            "requests": 0,
        })
        refused["requests"] += 1
        return {"error": "already refunded", "refund_id": first.answer["refund_id"],
                "bet_ref": request.bet_ref, "provider": request.provider,
                "refunded_by": first.request.by}

    def _roll_back(self, ref: str) -> None:
        """The provider paid the stake back: its API now holds a bet without a result as
        cancelled (a bet it settled keeps its result; the ledger shows both)."""
        bet = self._book.bets.get(ref)
        if bet is not None and bet.status_at(self._clock()) != "settled":
            bet.cancelled = True

    # -- observation -------------------------------------------------------

    def log_start(self, method: str, path: str) -> int:
        """Log a request as it arrives; returns its number, for ``log_finish``."""
        with self._lock:
            number = self._logged
            self._logged += 1
            self._statuses[number % LOG_CAPACITY] = 0
            self._log.append((self._clock(), method, path, number))
            return number

    def log_finish(self, number: int, status: int) -> None:
        with self._lock:
            self._statuses[number % LOG_CAPACITY] = status

    def log_since(self, since: float) -> list[dict[str, Any]]:
        """Requests that arrived after ``since`` (entries are appended in arrival order)."""
        with self._lock:
            found: list[dict[str, Any]] = []
            for t, method, path, number in reversed(self._log):
                if t <= since:
                    break
                status = self._statuses[number % LOG_CAPACITY]
                found.append({"t": t, "method": method, "path": path,
                              "status": status or None})
        found.reverse()
        return found

    def truth(self) -> dict[str, Any]:
        with self._lock:
            now = self._clock()
            refunds = {
                key: {
                    "refund_id": refund.answer["refund_id"],
                    "idempotency_key": key,
                    "by": refund.request.by,
                    "bet_ref": refund.request.bet_ref,
                    "provider": refund.request.provider,
                    "amount": money(refund.request.amount),
                    "currency": refund.request.currency,
                    "requests": self._refund_requests.get(key, 0),
                }
                for key, refund in self._refunds.items()
            }
            return {
                **self._book.truth(now),
                "refunds": refunds,
                "refund_requests": dict(self._refund_requests),
                "refused_refunds": {key: dict(refused) for key, refused in self._refusals.items()},
                "counts": dict(self._counts),
            }
