"""Group commit of single bets: bets placed one a request, at about the same time, are
registered in one transaction with one publish of their wake-ups, each answered on its own.

A request that finds no group being written writes its bet at once, alone. Requests
that arrive while a group is being written wait, and the oldest of them then writes all
that have gathered (up to ``MAX_GROUP``) as the next group: the busier the intake, the
larger the groups, with no timer and no wait on a quiet system. A bet is answered only
after its group's transaction committed, exactly as ``place_bet`` would answer it:
created, the same bet again, or ``ConflictingBet`` naming the fields (a reference twice
in one group is placed once, the second hearing "exists" or "conflict"). A group that
fails for a reason other than the database's availability is written again bet by bet,
so one bet the database refuses never costs its neighbours their answers.
See docs/performance.md, "Single bets in groups".
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from betguard.models.domain.errors import ConflictingBet
from betguard.models.store.reconnect import is_disconnect
from betguard.services.context import Context
from betguard.services.intake import NewBet, PlaceBet, Placed, new_bet, register

# A group is one multi-row INSERT: as many bets as a batch may hold.
MAX_GROUP = 1000


@dataclass(eq=False)
class _Waiting:
    new: NewBet
    turn: threading.Event = field(default_factory=threading.Event)  # answered, or to lead
    leads: bool = False
    answer: Placed | ConflictingBet | None = None
    error: BaseException | None = None

    @property
    def answered(self) -> bool:
        return self.answer is not None or self.error is not None


class IntakeGroups:
    """One per process, shared by every request thread (``place`` is thread-safe)."""

    def __init__(self, ctx: Context, *, max_group: int = MAX_GROUP) -> None:
        self._ctx = ctx
        self._max_group = max_group
        self._lock = threading.Lock()
        self._gathering: list[_Waiting] = []
        self._writing = False  # a group is being written; while not, none is gathering

    def place(self, command: PlaceBet) -> Placed:
        """Register ``command`` with whatever bets arrive beside it: as ``place_bet``."""
        waiting = _Waiting(new_bet(self._ctx, command, self._ctx.clock()))
        with self._lock:
            self._gathering.append(waiting)
            if not self._writing:
                self._writing = waiting.leads = True
        if not waiting.leads:
            waiting.turn.wait()
        if not waiting.answered:  # its turn to lead: its bet is the oldest gathered
            self._write_next_group()
        if waiting.error is not None:
            raise waiting.error
        if isinstance(waiting.answer, ConflictingBet):
            raise waiting.answer
        assert waiting.answer is not None  # noqa: S101 - set with the turn
        return waiting.answer

    def _write_next_group(self) -> None:
        """Write the bets gathered so far (the leader's among them), answer each, then hand
        the lead to the oldest bet that gathered meanwhile."""
        with self._lock:
            group = self._gathering[:self._max_group]
            del self._gathering[:self._max_group]
        try:
            self._write(group)
        finally:
            for waiting in group:
                if not waiting.answered:  # the write itself was interrupted
                    waiting.error = RuntimeError("the bet's group was not written")
            with self._lock:
                following = self._gathering[0] if self._gathering else None
                if following is None:
                    self._writing = False
                else:
                    following.leads = True
            for waiting in group:
                waiting.turn.set()
            if following is not None:
                following.turn.set()

    def _write(self, group: list[_Waiting]) -> None:
        try:
            answers = register(self._ctx, [waiting.new for waiting in group])
        except Exception as exc:
            if len(group) == 1 or is_disconnect(exc):  # the database is away: all hear so
                for waiting in group:
                    waiting.error = exc
                return
            for waiting in group:  # one bet the database refuses: the others still placed
                self._write([waiting])
            return
        for waiting, answer in zip(group, answers, strict=True):
            waiting.answer = answer
