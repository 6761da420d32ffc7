"""The drills' audit finds a bet left with no next step: not final, no next check a
sweep takes, no open review. Bets are seeded in a database of their own on the real
PostgreSQL, so no worker, sweep or other test moves them."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from betguard.models.domain.states import BetState
from betguard.models.store.db import Database
from betguard.models.store.tables import Bet, Review
from betguard.providers.wallet import refund_idempotency_key
from betguard_devkit.audit import AuditReport, Check, audit
from tests.integration.harness import Stack, database_of_its_own

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)


@pytest.fixture(scope="module")
def db(stack: Stack) -> Iterator[Database]:
    with database_of_its_own(stack, "audit_dead_ends", pool_size=2) as db:
        yield db


def seed(db: Database, prefix: str, state: BetState, *, next_check: bool,
         reviews: tuple[bool, ...] = ()) -> str:
    """A bet of ``state`` (with a next check in a minute, or none), with one review per
    entry of ``reviews`` (True: still open). Returns its reference."""
    ref = f"{prefix}{secrets.token_hex(4)}"
    final = state in (BetState.SETTLED, BetState.REFUNDED)
    bet = Bet(provider="refunder", bet_ref=ref, player_id="p", game_id="g", round_id=ref,
              stake=Decimal("10.00"), currency="EUR", placed_at=NOW, state=state.value,
              payout=Decimal("0.00") if state is BetState.SETTLED else None,
              deadline=NOW + timedelta(minutes=5),
              next_check_at=NOW + timedelta(minutes=1) if next_check else None,
              created_at=NOW, updated_at=NOW, final_at=NOW if final else None)
    with db.unit_of_work() as session:
        session.add(bet)
        session.flush()
        for still_open in reviews:
            session.add(Review(bet_id=bet.id, reason="refund_rejected", opened_at=NOW,
                               detail={}, resolved_at=None if still_open else NOW,
                               resolution=None if still_open else "acknowledged"))
        session.commit()
    return ref


def audited(db: Database, prefix: str, *refunded: str) -> tuple[AuditReport, Check]:
    """The audit of the bets under ``prefix``; the wallet's ledger holds one refund for
    each of ``refunded``, under its key."""
    refunds = {ref: {"bet_ref": ref, "idempotency_key": refund_idempotency_key("refunder", ref)}
               for ref in refunded}
    truth = {"bets": {}, "refunds": refunds, "counts": {}}
    with db.unit_of_work() as session:
        report = audit(session, truth, now=NOW, slack=timedelta(minutes=10), prefix=prefix)
    [check] = [c for c in report.checks if c.name == "no dead end"]
    return report, check


def test_the_audit_passes_when_every_unfinished_bet_has_a_next_check_or_an_open_review(
    db: Database,
) -> None:
    prefix = f"healthy-{secrets.token_hex(3)}-"
    seed(db, prefix, BetState.PENDING, next_check=True)
    seed(db, prefix, BetState.REFUND_PENDING, next_check=True)  # a refund in doubt
    seed(db, prefix, BetState.REFUND_PENDING, next_check=False, reviews=(True,))  # stopped
    seed(db, prefix, BetState.IN_REVIEW, next_check=False, reviews=(False, True))
    seed(db, prefix, BetState.SETTLED, next_check=False)
    refunded = seed(db, prefix, BetState.REFUNDED, next_check=False,
                    reviews=(False,))  # a conflict acknowledged

    report, check = audited(db, prefix, refunded)

    assert (check.checked, check.failures) == (4, [])
    assert report.passed, report.as_dict()


def test_the_audit_fails_on_a_bet_no_sweep_takes_and_no_review_holds(db: Database) -> None:
    prefix = f"stuck-{secrets.token_hex(3)}-"
    acknowledged = seed(db, prefix, BetState.REFUND_PENDING, next_check=False,
                        reviews=(False,))  # the refund's retries stopped, its review closed
    unreviewed = seed(db, prefix, BetState.IN_REVIEW, next_check=True)
    unchecked = seed(db, prefix, BetState.PENDING, next_check=False)
    seed(db, prefix, BetState.PENDING, next_check=True)

    report, check = audited(db, prefix)

    assert not report.passed and check.checked == 4
    assert sorted(check.failures) == sorted([
        f"refunder/{acknowledged}: refund_pending with no next check and no open review",
        f"refunder/{unreviewed}: in_review with a next check no sweep takes and no open review",
        f"refunder/{unchecked}: pending with no next check and no open review",
    ])
