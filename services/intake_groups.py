"""Group commit of single bets: bets placed one a request, at about the same time, are
registered in one transaction with one publish of their wake-ups, each answered on its own.

One writer thread a process takes the bets handed to it in order of arrival: when it is
free, it writes every bet waiting (up to ``MAX_GROUP``) as one group, at once, so the
busier the intake, the larger the groups, with no timer and no wait on a quiet system.
A bet is answered only after its group's transaction committed, exactly as ``place_bet``
would answer it: created, the same bet again, or ``ConflictingBet`` naming the fields (a
reference twice in one group is placed once, the second hearing "exists" or "conflict").
A group that fails for a reason other than a lost database connection is written again
bet by bet, so one bet the database refuses never costs its neighbours their answers.
The API's requests wait for their answers without holding a thread each
(``asyncio.wrap_future``). The writer has a connection of its own, not pinged before each
group (``Database.for_one_writer``): a round trip less a group, and a lost connection is
found by the group's first statement and retried like any other. See
docs/performance.md, "Single bets in groups".
"""

from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass, replace

from betguard.models.domain.errors import ConflictingBet
from betguard.models.store.reconnect import is_disconnect
from betguard.services.context import Context
from betguard.services.intake import NewBet, PlaceBet, Placed, new_bet, register

log = logging.getLogger(__name__)

# A group is one multi-row INSERT: as many bets as a batch may hold.
MAX_GROUP = 1000
# The writer's connection in pg_stat_activity.
WRITER_NAME = "betguard-intake-writer"


@dataclass(frozen=True)
class _Waiting:
    new: NewBet
    answer: Future[Placed]


class IntakeGroups:
    """One per process, shared by every request (``submit`` and ``place`` are
    thread-safe); its writer thread starts with the first bet."""

    def __init__(self, ctx: Context, *, max_group: int = MAX_GROUP) -> None:
        self._ctx = ctx
        self._writing = replace(ctx, db=ctx.db.for_one_writer(WRITER_NAME))  # the writer's
        self._max_group = max_group
        self._waiting: queue.SimpleQueue[_Waiting | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._writer: threading.Thread | None = None

    def submit(self, command: PlaceBet) -> Future[Placed]:
        """Hand ``command`` to the writer; its future holds what ``place_bet`` would answer,
        set once its group committed. A bet the intake refuses raises here, at once."""
        waiting = _Waiting(new_bet(self._ctx, command, self._ctx.clock()), Future())
        with self._lock:
            if self._writer is None:
                self._writer = threading.Thread(target=self._write_groups, daemon=True,
                                                name="intake-groups")
                self._writer.start()
            self._waiting.put(waiting)
        return waiting.answer

    def place(self, command: PlaceBet) -> Placed:
        """``submit`` and wait for the answer: as ``place_bet``."""
        return self.submit(command).result()

    def close(self) -> None:
        """Write what was handed over so far, then stop the writer."""
        with self._lock:
            writer, self._writer = self._writer, None
            if writer is not None:
                self._waiting.put(None)
        if writer is not None:
            writer.join()
        if self._writing.db is not self._ctx.db:
            self._writing.db.dispose()

    def _write_groups(self) -> None:
        while True:
            first = self._waiting.get()
            if first is None:
                return
            group = [first]
            while len(group) < self._max_group:
                try:
                    following = self._waiting.get_nowait()
                except queue.Empty:
                    break
                if following is None:  # closing: this group first, then stop
                    self._waiting.put(None)
                    break
                group.append(following)
            try:
                self._write(group)
            except BaseException as exc:  # never leave a request without its answer
                log.exception("writing a group of %d bets failed", len(group))
                for waiting in group:
                    if not waiting.answer.done():
                        waiting.answer.set_exception(exc)

    def _write(self, group: list[_Waiting]) -> None:
        try:
            answers = register(self._writing, [waiting.new for waiting in group])
        except Exception as exc:
            if len(group) == 1 or is_disconnect(exc):  # the database is away: all hear so
                for waiting in group:
                    waiting.answer.set_exception(exc)
                return
            for waiting in group:  # one bet the database refuses: the others still placed
                self._write([waiting])
            return
        for waiting, answer in zip(group, answers, strict=True):
            if isinstance(answer, ConflictingBet):
                waiting.answer.set_exception(answer)
            else:
                waiting.answer.set_result(answer)
