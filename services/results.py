"""The normal path: the game server reports the result it received."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from betguard.models.domain import transitions
from betguard.models.domain.errors import ContradictingCommand, IllegalTransition, InvalidCommand
from betguard.models.domain.events import EventKind
from betguard.models.domain.money import is_plain_decimal
from betguard.models.domain.states import BetState
from betguard.models.domain.transitions import NewEvent
from betguard.models.store import repository
from betguard.providers.base import ProviderStatus
from betguard.services.context import Context
from betguard.services.late_facts import Fact, note_late_fact
from betguard.services.outcomes import note_fact
from betguard.services.review_facts import Taken

CURRENCY = re.compile(r"^[A-Z]{3}$")
MAX_PAYOUT = Decimal("1e14")
CAS_ATTEMPTS = 5


class ResultOutcome(StrEnum):
    SETTLED = "settled"  # the bet was pending and is now settled
    ALREADY_SETTLED = "already_settled"  # the same result was reported before
    CONFLICT = "conflict"  # contradicts a decided bet: a conflict review is open
    # The bet is in review and the result is attached to it: a person decides with it (a
    # review that only waited for the result is closed by it instead: SETTLED).
    NOTED_FOR_REVIEW = "noted_for_review"


def parse_payout(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise InvalidCommand("payout: expected a decimal string like \"12.50\"")
    try:
        payout = Decimal(value)
    except InvalidOperation:
        raise InvalidCommand(f"payout: {value!r} is not a decimal number") from None
    exponent = payout.as_tuple().exponent
    if not payout.is_finite() or payout.is_signed() or payout >= MAX_PAYOUT:
        raise InvalidCommand(f"payout: {value!r} must be between 0 and {MAX_PAYOUT}")
    if isinstance(exponent, int) and exponent < -4:
        raise InvalidCommand(f"payout: {value!r} has more than 4 decimal places")
    if isinstance(value, str) and not is_plain_decimal(value):
        raise InvalidCommand(f"payout: {value[:40]!r} is not a plain decimal like \"12.50\"")
    return payout


def report_result(
    ctx: Context, provider: str, bet_ref: str, *, payout: object, currency: str,
    actor: str = "game-server",
) -> ResultOutcome:
    """Settle a pending bet with the result the game server received. Never overwrites
    a decided bet: a contradicting result opens a conflict review instead. A bet in
    review takes it as a final fact (``betguard.services.review_facts``)."""
    amount = parse_payout(payout)
    if not isinstance(currency, str) or not CURRENCY.match(currency):
        raise InvalidCommand(f"currency: {currency!r} is not a 3-letter code")
    fact = Fact(actor, ProviderStatus.SETTLED, amount, currency)
    reported = NewEvent(EventKind.RESULT_REPORTED, actor, fact.as_detail())
    for _ in range(CAS_ATTEMPTS):
        now = ctx.clock()
        with ctx.db.unit_of_work() as session:
            bet = repository.get_by_ref(session, provider, bet_ref)
            if bet.state is BetState.PENDING:
                if currency != bet.currency:
                    raise ContradictingCommand(
                        f"currency: the bet is in {bet.currency}, not {currency}")
                change = transitions.settle(bet, payout=amount, actor=actor,
                                            why="game server reported the result",
                                            now=now).preceded_by([reported])
                if repository.apply(session, bet, change, now=now):
                    session.commit()
                    return ResultOutcome.SETTLED
                continue  # a check claimed the bet meanwhile: read it again
            if bet.state is BetState.SETTLED and bet.payout == amount and bet.currency == currency:
                return ResultOutcome.ALREADY_SETTLED
            if bet.state is BetState.IN_REVIEW:
                taken = note_fact(session, bet, fact, events=[reported], now=now)
                if taken is Taken.CHANGED:
                    continue  # someone decided the bet meanwhile: read it again
                session.commit()
                return (ResultOutcome.SETTLED if taken is Taken.CLOSED
                        else ResultOutcome.NOTED_FOR_REVIEW)
            note_late_fact(session, bet, fact, events=[reported], now=now)
            session.commit()
            return ResultOutcome.CONFLICT
    raise IllegalTransition(f"bet {provider}/{bet_ref} kept changing; report the result again")
