"""The ops commands as a person runs them, and the bets they are run on: helpers of the
tests of the CLI, the review queue and the pages that show its commands."""

from __future__ import annotations

import secrets
from decimal import Decimal
from pathlib import Path

from betguard.models.domain.snapshot import BetSnapshot
from betguard.providers.wallet import refund_idempotency_key
from betguard.services.intake import place_bet
from betguard.services.refunds import MAX_REJECTIONS
from tests.integration.harness import Run, Stack, bet_payload, run_betguard, wait_until

REFUNDER = "refunder"  # the provider never saw the bet: a refund is decided at once


def betguard(stack: Stack, *args: str, cwd: Path | None = None, timeout: float = 60,
             **env: str) -> Run:
    """betguard as an operator runs it: no operator name unless ``env`` gives one."""
    environment = {k: v for k, v in stack.env.items() if k != "BETGUARD_OPERATOR"} | env
    return run_betguard(environment, *args, timeout=timeout, cwd=cwd)


def one_error_line(run: Run, expected: str) -> None:
    """``run`` was refused in one ``error:`` line naming ``expected``, exit code 1."""
    assert run.code == 1, (run.out, run.err)
    assert run.out == "" and run.err.count("\n") == 1 and run.err.startswith("error: "), run.err
    assert expected in run.err


def label(bet: BetSnapshot) -> str:
    """How a person names the bet on the command line: ``provider/bet_ref``."""
    return f"{bet.provider}/{bet.bet_ref}"


def rejected_refund(stack: Stack, *, for_good: bool) -> BetSnapshot:
    """A bet whose refund the wallet rejected until betguard stopped retrying it.

    ``for_good``: the wallet already holds another refund under the bet's key (a
    different amount), so it refuses every attempt; else it refuses the first
    ``MAX_REJECTIONS`` and would accept the next."""
    ref = f"rej-{secrets.token_hex(6)}"
    stack.sim("POST", "/_sim/bets", {"bet_ref": ref, "stake": "10.00", "currency": "EUR",
                                     "fate": "unknown"})
    if for_good:
        stack.context.wallet.refund(idempotency_key=refund_idempotency_key(REFUNDER, ref),
                                    provider=REFUNDER, bet_ref=ref, amount=Decimal("1.00"),
                                    currency="EUR")
    else:
        stack.sim("POST", "/_sim/faults", {"target": "wallet", "fault": "http_400",
                                           "times": MAX_REJECTIONS})
    bet = place_bet(stack.context, bet_payload(REFUNDER, ref)).bet
    wait_until(lambda: "refund_retries_stopped" in stack.kinds(bet.id), 60,
               lambda: f"history: {stack.kinds(bet.id)}")
    return stack.bet(bet.id)
