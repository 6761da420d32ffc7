"""One human line per audit event, built from its detail, so a bet's timeline reads
as a story ("check 3: provider says pending (12 ms)") instead of raw JSON.

Details are written by many versions of the code over a bet's life; every
explanation tolerates a missing key and never fails a command.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from betguard.models.domain.events import EventKind, ReviewReason

Detail = Mapping[str, Any]
MAX_LINE = 200


def explain(kind: str, actor: str, detail: Detail) -> str:
    """The one-line explanation of an event of ``kind`` by ``actor``."""
    explainer = _EXPLAINERS.get(kind)
    if explainer is None:
        return one_line(f"{kind}: {json.dumps(dict(detail), sort_keys=True, default=str)}")
    return one_line(explainer(actor, detail))


def review_why(reason: str, detail: Detail) -> str:
    """Why a review was opened, in one line, whatever its reason."""
    if reason == ReviewReason.CONFLICT:
        return one_line(_conflict(detail))
    if reason == ReviewReason.REFUND_REJECTED:
        return one_line(f"wallet refused the refund: {detail.get('message', '?')}")
    return one_line(str(detail.get("why", "")))


def one_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= MAX_LINE else flat[: MAX_LINE - 1] + "…"


def clock(value: object) -> str:
    """The time of day (UTC) of an ISO timestamp found in a detail."""
    try:
        return datetime.fromisoformat(str(value)).astimezone(UTC).strftime("%H:%M:%S")
    except ValueError:
        return str(value)


def _amount(detail: Detail) -> str:
    payout = detail.get("payout")
    return "" if payout is None else f", payout {payout} {detail.get('currency') or ''}".rstrip()


def _error(detail: Detail) -> str:
    return f"{detail.get('error', 'error')}: {detail.get('message', '')}"


def _operator(actor: str) -> str:
    return actor.removeprefix("operator:")


def _placed(_actor: str, d: Detail) -> str:
    deadline = clock(d.get("deadline"))
    return f"placed: stake {d.get('stake')} {d.get('currency')}, deadline {deadline}"


def _check_started(_actor: str, d: Detail) -> str:
    return f"check {d.get('attempt')} started"


def _answered(_actor: str, d: Detail) -> str:
    elapsed = d.get("elapsed_ms")
    took = f" ({round(elapsed)} ms)" if isinstance(elapsed, int | float) else ""
    return f"check {d.get('attempt')}: provider says {d.get('status')}{_amount(d)}{took}"


def _provider_error(_actor: str, d: Detail) -> str:
    attempt = d.get("attempt")
    which = f"check {attempt}" if attempt is not None else "provider call"
    return f"{which}: provider error {_error(d)}"


def _rescheduled(_actor: str, d: Detail) -> str:
    return f"rescheduled check {d.get('attempt')} for {clock(d.get('at'))}"


def _cancel_answered(_actor: str, d: Detail) -> str:
    if d.get("accepted"):
        return "cancel accepted"
    return f"cancel refused: provider says {d.get('status')}{_amount(d)}"


def _cancel_failed(_actor: str, d: Detail) -> str:
    return f"cancel failed: {_error(d)}"


def _settled(_actor: str, d: Detail) -> str:
    return f"settled: payout {d.get('payout')} {d.get('currency')} — {d.get('why')}"


def _refund_decided(_actor: str, d: Detail) -> str:
    return f"refund decided: {d.get('why')}"


def _refund_failed(_actor: str, d: Detail) -> str:
    return f"refund in doubt, {_error(d)}; retry at {clock(d.get('retry_at'))}"


def _refund_rejected(_actor: str, d: Detail) -> str:
    then = f"retry at {clock(d['retry_at'])}" if d.get("retry_at") else "no retry"
    return f"refund rejected by the wallet, {_error(d)}; {then}"


def _refund_started(_actor: str, d: Detail) -> str:
    return f"refund attempt {d.get('attempt')} started (held until {clock(d.get('until'))})"


def _refund_retries_stopped(_actor: str, d: Detail) -> str:
    return f"refund retries stopped: {d.get('why')}; a person decides"


def _refund_retry_ordered(actor: str, d: Detail) -> str:
    return f"refund retry ordered by {_operator(actor)} (same key) — {d.get('note')}"


def _check_crashed(_actor: str, d: Detail) -> str:
    return (f"check {d.get('attempt')} crashed ({d.get('crashes_in_a_row')} in a row), "
            f"{_error(d)}")


def _refunded(actor: str, d: Detail) -> str:
    if d.get("outside_betguard"):
        return (f"refunded outside betguard, recorded by {_operator(actor)}: "
                f"{d.get('reference')} — {d.get('note')}")
    key = str(d.get("idempotency_key", "?"))
    short = key if len(key) <= 11 else key[:11] + "…"
    return f"refunded: {d.get('refund_id')} (key {short})"


def _review_opened(_actor: str, d: Detail) -> str:
    return f"review opened ({d.get('reason')}): {d.get('why')}"


def _review_resolved(actor: str, d: Detail) -> str:
    approved = (f", approved by {d['approved_by']} (proposal #{d.get('proposal')})"
                if d.get("approved_by") else "")
    return (f"review resolved by {_operator(actor)}{approved}: {d.get('resolution')} — "
            f"{d.get('note')}")


def _recheck_ordered(actor: str, d: Detail) -> str:
    if "deadline" in d:
        return (f"re-check ordered by {_operator(actor)}: check {d.get('attempt')}, "
                f"new deadline {clock(d.get('deadline'))} — {d.get('note')}")
    return f"re-check ordered by {_operator(actor)}: check {d.get('attempt')} now"


def _result_reported(_actor: str, d: Detail) -> str:
    return f"result reported by {d.get('source')}: {d.get('status')}{_amount(d)}"


def _conflict(d: Detail) -> str:
    decided: Detail = d.get("decided") or {}
    late: Detail = d.get("late_fact") or {}
    return (f"decided {decided.get('state')}{_amount(decided)}, but {late.get('source')} "
            f"says {late.get('status')}{_amount(late)}")


def _conflict_opened(_actor: str, d: Detail) -> str:
    return f"review opened (conflict): {_conflict(d)}"


def _late_ignored(_actor: str, d: Detail) -> str:
    return (f"late answer ignored: {d.get('source')} says {d.get('status')}{_amount(d)}; "
            f"bet already {d.get('state')}")


def _check_swept(_actor: str, d: Detail) -> str:
    return f"sweep dispatched check {d.get('attempt')}"


def _refund_swept(_actor: str, _d: Detail) -> str:
    return "sweep dispatched the refund"


_EXPLAINERS: dict[str, Callable[[str, Detail], str]] = {
    EventKind.BET_PLACED: _placed,
    EventKind.CHECK_STARTED: _check_started,
    EventKind.PROVIDER_ANSWERED: _answered,
    EventKind.PROVIDER_ERROR: _provider_error,
    EventKind.CHECK_RESCHEDULED: _rescheduled,
    EventKind.CANCEL_ANSWERED: _cancel_answered,
    EventKind.CANCEL_FAILED: _cancel_failed,
    EventKind.BET_SETTLED: _settled,
    EventKind.REFUND_DECIDED: _refund_decided,
    EventKind.REFUND_FAILED: _refund_failed,
    EventKind.REFUND_REJECTED: _refund_rejected,
    EventKind.BET_REFUNDED: _refunded,
    EventKind.REVIEW_OPENED: _review_opened,
    EventKind.REVIEW_RESOLVED: _review_resolved,
    EventKind.RECHECK_ORDERED: _recheck_ordered,
    EventKind.RESULT_REPORTED: _result_reported,
    EventKind.CONFLICT_REVIEW_OPENED: _conflict_opened,
    EventKind.LATE_ANSWER_IGNORED: _late_ignored,
    EventKind.CHECK_DISPATCHED_BY_SWEEP: _check_swept,
    EventKind.REFUND_DISPATCHED_BY_SWEEP: _refund_swept,
    EventKind.REFUND_STARTED: _refund_started,
    EventKind.REFUND_RETRIES_STOPPED: _refund_retries_stopped,
    EventKind.REFUND_RETRY_ORDERED: _refund_retry_ordered,
    EventKind.CHECK_CRASHED: _check_crashed,
}
