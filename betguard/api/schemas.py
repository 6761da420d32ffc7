"""What the API reads and writes. Money is always a decimal string, never a float,
and times are ISO-8601 in UTC, so a client never rounds a stake by parsing it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from betguard.models.domain.errors import InvalidCommand
from betguard.models.domain.events import Resolution, ReviewReason
from betguard.models.domain.money import PAYOUT_PATTERN, STAKE_PATTERN, wire_amount
from betguard.models.domain.snapshot import BetSnapshot
from betguard.models.domain.states import BetState
from betguard.models.store.tables import AuditEvent, Review
from betguard.services.approvals import ProposalView
from betguard.services.cancels import CancelOutcome
from betguard.services.intake import ClientTime, PlaceBet
from betguard.services.operator_text import MAX_TEXT, TEXT_PATTERN
from betguard.services.reconcile_store import RESOLVED as DIFFERENCE_RESOLVED
from betguard.services.results import CURRENCY, ResultOutcome, parse_payout

MAX_BATCH = 1000
STAKE_DOC: JsonDict = {"pattern": STAKE_PATTERN, "examples": ["12.50"]}
PAYOUT_DOC: JsonDict = {"pattern": PAYOUT_PATTERN, "examples": ["12.50"]}
TEXT_DOC: JsonDict = {"pattern": TEXT_PATTERN}
CURRENCY_DOC: JsonDict = {"pattern": CURRENCY.pattern, "examples": ["EUR"]}


class Problem(BaseModel):
    field: str
    message: str


class ErrorOut(BaseModel):
    """Every refusal. ``problems`` name the bad fields (422); ``fields`` the differing
    ones (409)."""

    error: str
    problems: list[Problem] | None = None
    fields: list[str] | None = None


class BetOut(BaseModel):
    id: int
    provider: str
    bet_ref: str
    player_id: str
    game_id: str
    round_id: str
    stake: str = Field(json_schema_extra=STAKE_DOC)
    currency: str
    state: BetState
    payout: str | None = Field(json_schema_extra={"examples": ["12.50", None]})
    placed_at: datetime
    deadline: datetime
    next_check_at: datetime | None
    check_attempt: int

    @classmethod
    def of(cls, bet: BetSnapshot) -> BetOut:
        return cls(
            id=bet.id, provider=bet.provider, bet_ref=bet.bet_ref, player_id=bet.player_id,
            game_id=bet.game_id, round_id=bet.round_id, stake=wire_amount(bet.stake),
            currency=bet.currency, state=bet.state,
            payout=None if bet.payout is None else wire_amount(bet.payout),
            placed_at=bet.placed_at, deadline=bet.deadline, next_check_at=bet.next_check_at,
            check_attempt=bet.check_attempt,
        )


class BetEnvelope(BaseModel):
    bet: BetOut


class EventOut(BaseModel):
    at: datetime
    kind: str
    actor: str
    detail: dict[str, Any]

    @classmethod
    def of(cls, event: AuditEvent) -> EventOut:
        return cls(at=event.at, kind=event.kind, actor=event.actor, detail=event.detail)


# How a review was closed: an operator's resolution, or "resolved" for a reconciliation
# review closed with its difference (``betguard differences resolve``).
ReviewClosure = Resolution | Literal["resolved"]


class ReviewOut(BaseModel):
    id: int
    reason: ReviewReason
    opened_at: datetime
    detail: dict[str, Any]
    resolved_at: datetime | None
    resolution: ReviewClosure | None
    operator: str | None
    note: str | None

    @classmethod
    def of(cls, review: Review) -> ReviewOut:
        return cls(
            id=review.id, reason=ReviewReason(review.reason), opened_at=review.opened_at,
            detail=review.detail, resolved_at=review.resolved_at,
            resolution=_closure(review.resolution),
            operator=review.operator, note=review.note,
        )


def _closure(value: str | None) -> ReviewClosure | None:
    if value is None:
        return None
    return "resolved" if value == DIFFERENCE_RESOLVED else Resolution(value)


class BetStory(BaseModel):
    """A bet with the history that explains its state and every review it had."""

    bet: BetOut
    history: list[EventOut]
    reviews: list[ReviewOut]


class QueuedReview(ReviewOut):
    bet: BetOut


class ReviewQueue(BaseModel):
    reviews: list[QueuedReview]


class BatchIn(BaseModel):
    """The batch envelope only: each item is validated on its own, so one bad bet
    does not refuse the others."""

    model_config = ConfigDict(extra="forbid")

    bets: list[Any] = Field(max_length=MAX_BATCH)


class BatchItem(BaseModel):
    index: int
    status: Literal["created", "exists", "conflict", "invalid"]
    bet: BetOut | None = None
    error: str | None = None
    fields: list[str] | None = None
    problems: list[Problem] | None = None


class BatchOut(BaseModel):
    results: list[BatchItem]


class ResultIn(BaseModel):
    """The result the game server received. The service checks the values, so its
    messages (not a regular expression's) are what the client reads."""

    model_config = ConfigDict(extra="forbid")

    payout: str = Field(json_schema_extra=PAYOUT_DOC)
    currency: str = Field(json_schema_extra=CURRENCY_DOC)


class ResultOut(BaseModel):
    outcome: ResultOutcome
    bet: BetOut


class CancelOut(BaseModel):
    outcome: CancelOutcome
    bet: BetOut


def _needs(resolution: Resolution, field: str) -> JsonDict:
    """The document's way of saying that ``resolution`` needs ``field`` (not null)."""
    return {"if": {"properties": {"resolution": {"const": resolution.value}},
                   "required": ["resolution"]},
            "then": {"properties": {field: {"type": "string"}}, "required": [field]}}


def _payout_if_given(value: str | None) -> str | None:
    """A payout is checked whenever it is sent, not only when it settles the bet: the
    document states one rule for it."""
    if value is not None:
        try:
            parse_payout(value)
        except InvalidCommand as exc:
            raise ValueError(str(exc).removeprefix("payout: ")) from None
    return value


class ResolveIn(BaseModel):
    """``settled`` needs ``payout``; ``recheck`` may give ``deadline``;
    ``refunded_outside`` (a refund the wallet rejected, paid another way) needs
    ``reference``; ``retry_refund`` tries a rejected refund again under its key. A
    ``recheck`` deadline must lie in the future, within a year (422 otherwise)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"allOf": [
        _needs(Resolution.SETTLED, "payout"), _needs(Resolution.REFUNDED_OUTSIDE, "reference"),
    ]})

    resolution: Resolution
    note: str = Field(min_length=1, max_length=MAX_TEXT, json_schema_extra=TEXT_DOC)
    payout: Annotated[str | None, AfterValidator(_payout_if_given)] = Field(
        default=None, json_schema_extra={**PAYOUT_DOC, "examples": ["40.00"]})
    deadline: ClientTime = None
    reference: str | None = Field(default=None, min_length=1, max_length=200,
                                  json_schema_extra={**TEXT_DOC,
                                                     "examples": ["bank-transfer-4711"]})


class ProposalOut(BaseModel):
    """A decision waiting for (or given) a second person's approval: ``state`` is open,
    approved, rejected, void (the bet moved on before approval) or expired."""

    id: int
    provider: str
    bet_ref: str
    resolution: Resolution
    amount: str
    note: str
    payout: str | None = None
    reference: str | None = None
    proposed_by: str
    proposed_at: datetime
    expires_at: datetime
    state: str
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision_note: str | None = None

    @classmethod
    def of(cls, view: ProposalView) -> ProposalOut:
        return cls(id=view.id, provider=view.provider, bet_ref=view.bet_ref,
                   resolution=Resolution(view.resolution), amount=wire_amount(view.amount),
                   note=view.note, payout=view.payout, reference=view.reference,
                   proposed_by=view.proposed_by, proposed_at=view.proposed_at,
                   expires_at=view.expires_at, state=view.state, decided_by=view.decided_by,
                   decided_at=view.decided_at, decision_note=view.decision_note)


class ProposedOut(BaseModel):
    """202: the decision puts more at stake than one person may move alone; it waits, as
    ``proposal``, for an approver. Nothing changed yet."""

    proposal: ProposalOut
    message: str


class ProposalList(BaseModel):
    proposals: list[ProposalOut]


class DecisionNoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(min_length=1, max_length=MAX_TEXT, json_schema_extra=TEXT_DOC)


class RecheckOut(BaseModel):
    """``ordered`` false: a check was already at the provider (until ``in_flight_until``);
    nothing was changed or sent, and its answer will come."""

    bet: BetOut
    ordered: bool
    in_flight_until: datetime | None = None
    message: str


def intake_body_schema() -> dict[str, Any]:
    """The documented body of ``POST /bets``: one bet, or ``{"bets": [...]}``.

    Built from the intake's own model so the document and the checks cannot drift;
    only the stake is narrowed to the decimal string clients must send.
    A batch's items are documented as bets but may be anything: each is answered on its
    own.
    """
    single = PlaceBet.model_json_schema()
    single["properties"]["stake"] = {"type": "string", "title": "Stake", **STAKE_DOC}
    # An item that is not a bet does not refuse the batch: it is answered "invalid".
    item = {"anyOf": [single, {"description": "anything else: answered invalid, naming "
                                              "its bad fields"}]}
    batch = {
        "type": "object", "title": "BetBatch", "additionalProperties": False,
        "required": ["bets"],
        "properties": {"bets": {"type": "array", "maxItems": MAX_BATCH, "items": item}},
    }
    return {"oneOf": [single, batch]}

