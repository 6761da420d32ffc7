"""The failover drill's game server at the door: one bet at a time through
``POST /bets`` of the real API, all through the run, as a game server places them.
What it measures: how long intake was unavailable (the longest time without a
successful ``POST /bets``), and whether every bet the API acknowledged (201 or 200)
is in the database at the end."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import requests

from betguard_devkit.runrefs import RunRefs, round_fields

PROVIDER = "alpha"  # a generic provider: the probe's bets are audited with the others
FIRST_NUMBER = 9_000_000  # above every number the placer uses
INTERVAL = 0.1  # seconds between two probes that succeed
TIMEOUT = 10.0  # a game server's patience for one request


@dataclass
class IntakeProbe:
    api_url: str
    sim_url: str
    api_key: str
    refs: RunRefs
    acknowledged: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # 4xx: the probe's own mistake
    longest_gap: float = 0.0  # seconds without a successful POST /bets
    gaps: list[tuple[float, float]] = field(default_factory=list)  # (from, seconds) > 1 s
    started_at: float = 0.0  # wall clock
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> IntakeProbe:
        self.started_at = time.time()
        self._thread = threading.Thread(target=self._run, name="intake-probe", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=TIMEOUT * 2)

    def _run(self) -> None:
        session = requests.Session()
        last_ok = time.monotonic()
        number = FIRST_NUMBER
        ref: str | None = None  # registered at the provider, not yet acknowledged
        while ref is not None or not self._stop.is_set():
            ref = ref or self.refs.ref("generic", PROVIDER, number)
            if not self._place(session, ref):
                time.sleep(0.05)  # and the same reference again: intake is idempotent
                continue
            now = time.monotonic()
            gap = now - last_ok
            if gap > 1.0:
                self.gaps.append((round(time.time() - gap, 1), round(gap, 1)))
            self.longest_gap = max(self.longest_gap, gap)
            last_ok, ref, number = now, None, number + 1
            self._stop.wait(INTERVAL)

    def _place(self, session: requests.Session, ref: str) -> bool:
        """Register the bet at the provider (returned with its stake), then at betguard."""
        bet = {"bet_ref": ref, "stake": "10.00", "currency": "EUR", "fate": "returned",
               "payout": "10.00"}
        body = {"provider": PROVIDER, "bet_ref": ref, "player_id": "p-probe",
                **round_fields(ref, "blackjack"), "stake": "10.00", "currency": "EUR"}
        try:
            session.post(f"{self.sim_url}/_sim/bets", json=bet, timeout=TIMEOUT
                         ).raise_for_status()
            answer = session.post(f"{self.api_url}/bets", json=body, timeout=TIMEOUT,
                                  headers={"X-API-Key": self.api_key})
        except requests.RequestException:
            return False
        if answer.status_code in (200, 201):
            if ref not in self.acknowledged:
                self.acknowledged.append(ref)
            return True
        if 400 <= answer.status_code < 500:
            self.refused.append(f"{ref}: {answer.status_code} {answer.text[:200]}")
            return True  # not intake being away: go on with the next
        return False  # 5xx: away (the database or the broker is failing over)
