"""The hostile notification receivers, and how each notification must end."""

from __future__ import annotations

from dataclasses import dataclass

from tests.badinput.cases import case_param
from tests.integration.receiver import Mode

ATTEMPTS = 4  # BETGUARD_NOTIFY_ATTEMPTS in the test stack
DECIDED_WITHIN = 14.0  # the slowest designed case: one 5 s read timeout, then a retry
HELD_AT_MOST = 8.0  # the notifier's 2 s connect + 5 s read timeout, and a margin


@dataclass(frozen=True)
class ReceiverCase:
    """A hostile receiver, and how the notification must end."""

    mode: Mode
    times: int | None  # hostile for this many deliveries, None: for all
    state: str  # "delivered" or "dead"
    attempts: int
    error: str = ""  # words of the dead letter's last error
    bug: str | None = None

    def param(self) -> object:
        return case_param(self, self.mode.value.replace("_", " "), self.bug)


CASES = [
    ReceiverCase(Mode.HANG, 1, "delivered", 2),
    ReceiverCase(Mode.ERROR_500, None, "dead", ATTEMPTS, "HTTP 500: Internal Server Error"),
    ReceiverCase(Mode.REDIRECT, None, "dead", ATTEMPTS, "HTTP 302"),
    ReceiverCase(Mode.ENDLESS_500, None, "dead", ATTEMPTS, "HTTP 500"),
    ReceiverCase(Mode.CLOSE, 2, "delivered", 3),
    ReceiverCase(Mode.GARBAGE_200, None, "delivered", 1),
    ReceiverCase(Mode.UNAUTHORIZED, None, "dead", ATTEMPTS, "HTTP 401"),
    ReceiverCase(Mode.NUL_500, None, "dead", ATTEMPTS, "HTTP 500"),
    ReceiverCase(Mode.DRIP_500, 1, "delivered", 2),
]
