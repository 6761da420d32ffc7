"""Pragmatic Play's answers read whole: the JSON envelope and its error code, the
incomplete rounds, the environments list, a cancelRound's outcome, and the finished
rounds feed (docs/providers/pragmatic.md; the field models are in
``betguard.providers.pragmatic_wire``).

Rows. A row is read on its own: one that fails its model (an unknown status, a missing or
malformed field, the wrong number of fields) or that is not a round of the feed's kind
(``type`` not among option ``round_types``, default ``["R", "F"]``) is skipped -- logged
naming the provider, the call, the line and the field, and counted
(``Problem.ROW_REFUSED``, ``Problem.OTHER_PRODUCT``) -- and the rest of the page is used.
Nothing is decided on a skipped row: its bet waits like any bet without a final row.
Status ``C`` is SETTLED with ``win`` as the payout, ``V`` (void) CANCELLED, ``I`` (in
progress) PENDING, not final; a row with a jackpot win is refused unless option
``jackpot`` says how it is paid (``"in_win"``: ``win`` includes it, ``"added"``: payout is
``win`` + ``jackpot``; default ``"refuse"``). ``row_id`` is
``<gameID>:<playSessionID>``; ``bet_ref`` (the round, as bets name it by ``round_ref``)
is ``<gameID>:<parentSessionID>`` when the row names another round as its parent (the
round its free spins came from) and ``<gameID>:<playSessionID>`` otherwise
(``parentSessionID`` empty, ``null`` or the round itself). ``version`` is 2 x ``endDate``
in ms, plus 1 for a final row (an ``I`` row without ``endDate`` uses ``startDate``): the
provider re-finishes a round it corrects, so a newer state of a row has a later end, and
a round's final state outranks its in-progress state of the same millisecond.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from typing import Literal

from pydantic import ValidationError

from betguard.models.domain.times import to_millis
from betguard.providers.base import BetStatus, CancelOutcome, HistoryRow, ProviderStatus
from betguard.providers.errors import ProviderError
from betguard.providers.form_http import describe, invalid_answer, read_json
from betguard.providers.pragmatic_wire import (
    COLUMNS,
    DEFAULT_CANCEL_CODES,
    ERROR_CODES,
    OK,
    CancelMeaning,
    Envelope,
    Environment,
    Environments,
    FinishedRound,
    Incomplete,
    IncompleteRound,
    Reading,
)
from betguard.providers.problems import Problem, ProblemReporter

# Rows read with the default options, reported nowhere.
PLAIN = Reading()
_TIMEPOINT = re.compile(r"timepoint=([0-9]{1,15})")


def read_envelope(content: bytes, *, provider: str = "", call: str = "") -> Envelope:
    try:
        return Envelope.model_validate(read_json(content, provider=provider, call=call))
    except ValidationError as exc:
        raise invalid_answer(provider, call, describe(exc)) from None


def error_for(envelope: Envelope, *, provider: str = "", call: str = "",
              report: ProblemReporter | None = None) -> ProviderError:
    """The exception an error code stands for; a code betguard does not know is an
    invalid answer (retried within the deadline), reported as an unknown code."""
    said = envelope.description[:200]
    known = ERROR_CODES.get(envelope.error)
    if known is None:
        if report is not None:
            report(Problem.UNKNOWN_CODE, call, f"error: code {envelope.error} ({said})")
        return invalid_answer(provider, call, f"error: unexpected code {envelope.error} ({said})")
    meaning, kind = known
    return kind(f"provider {provider}: {call} error {envelope.error} ({meaning}): {said}")


def parse_incomplete(content: bytes, *, provider: str = "", call: str = "gamerounds/incomplete",
                     report: ProblemReporter | None = None) -> list[IncompleteRound]:
    """The rounds of an incomplete-rounds answer, or the exception it stands for. An
    entry that fails its model is skipped and reported; the others are used."""
    envelope = read_envelope(content, provider=provider, call=call)
    if envelope.error != OK:
        raise error_for(envelope, provider=provider, call=call, report=report)
    try:
        listed = Incomplete.model_validate(read_json(content, provider=provider, call=call))
    except ValidationError as exc:
        raise invalid_answer(provider, call, describe(exc)) from None
    rounds = []
    for number, entry in enumerate(listed.data):
        try:
            rounds.append(IncompleteRound.model_validate(entry))
        except ValidationError as exc:
            if report is not None:
                report(Problem.ROW_REFUSED, call, f"data.{number}, {describe(exc, 'entry')}")
    return rounds


def parse_environments(content: bytes, *, provider: str = "",
                       report: ProblemReporter | None = None) -> list[Environment]:
    call = "SystemAPI/environments"
    envelope = read_envelope(content, provider=provider, call=call)
    if envelope.error != OK:
        raise error_for(envelope, provider=provider, call=call, report=report)
    try:
        return Environments.model_validate(
            read_json(content, provider=provider, call=call)).environments
    except ValidationError as exc:
        raise invalid_answer(provider, call, describe(exc)) from None


def cancel_outcome(content: bytes, bet_ref: str, *, provider: str = "",
                   via: str | None = None,
                   meanings: Mapping[int, CancelMeaning] = DEFAULT_CANCEL_CODES,
                   report: ProblemReporter | None = None) -> CancelOutcome:
    """What a cancelRound answer says about ``bet_ref``."""
    call = "cancelRound"
    envelope = read_envelope(content, provider=provider, call=call)
    if envelope.error == OK:
        return CancelOutcome(True, BetStatus(bet_ref, ProviderStatus.CANCELLED, via=via))
    meaning = meanings.get(envelope.error)
    if meaning == "finished":
        return CancelOutcome(False, BetStatus(bet_ref, ProviderStatus.FINISHED, via=via))
    if meaning == "not_fenced":
        return CancelOutcome(False, BetStatus(bet_ref, ProviderStatus.UNKNOWN, via=via))
    raise error_for(envelope, provider=provider, call=call, report=report)


def parse_feed(content: bytes, *, timepoint: int, provider: str = "",
               call: str = "gamerounds/finished",
               reading: Reading = PLAIN) -> tuple[int, list[HistoryRow]]:
    """The next timepoint and the rows of a finished-rounds answer, or the exception it
    stands for. Lines are numbered from 1 (the ``timepoint`` line). A row that cannot be
    taken is skipped and reported (``reading``); the others are used."""
    if content.lstrip()[:1] == b"{":
        envelope = read_envelope(content, provider=provider, call=call)
        if envelope.error == OK:
            raise invalid_answer(provider, call, "body: JSON without an error, not the CSV feed")
        raise error_for(envelope, provider=provider, call=call, report=reading.report)
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise invalid_answer(provider, call, f"body: not UTF-8 ({exc})") from None
    first, _, rest = text.partition("\n")
    found = _TIMEPOINT.fullmatch(first.rstrip("\r"))
    if found is None:
        raise invalid_answer(provider, call, f"line 1: expected timepoint=<ms>, got {first[:60]!r}")
    following = int(found.group(1))
    if following < timepoint:
        raise invalid_answer(provider, call, f"line 1: timepoint {following} is before the "
                             f"requested {timepoint}")
    return following, _rows(rest, provider=provider, call=call, reading=reading)


def _rows(text: str, *, provider: str, call: str, reading: Reading) -> list[HistoryRow]:
    if not text.strip():
        return []  # an empty feed may leave out the header
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
        missing = [column for column in COLUMNS if column not in header]
        if missing:
            raise invalid_answer(provider, call, f"line 2: the header lacks {', '.join(missing)}")
        if len(set(header)) != len(header):
            raise invalid_answer(provider, call, "line 2: the header repeats a column")
        rows = []
        for fields in reader:
            line = reader.line_num + 1
            if not fields:
                continue  # a blank line holds no row
            if len(fields) != len(header):
                reading.refuse(Problem.ROW_REFUSED, call, f"line {line}: {len(fields)} fields, "
                               f"the header has {len(header)}")
                continue
            row = _row(dict(zip(header, fields, strict=True)), line, call, reading)
            if row is not None:
                rows.append(row)
    except csv.Error as exc:  # the quoting is broken: no line after it can be trusted
        raise invalid_answer(provider, call,
                             f"line {reader.line_num + 1}: not CSV ({exc})") from None
    return rows


def _row(fields: dict[str, str], line: int, call: str, reading: Reading) -> HistoryRow | None:
    try:
        found = FinishedRound.model_validate(fields)
    except ValidationError as exc:
        reading.refuse(Problem.ROW_REFUSED, call, f"line {line}, {describe(exc, 'endDate')}")
        return None
    if found.type not in reading.round_types:
        reading.refuse(Problem.OTHER_PRODUCT, call, f"line {line}, type: {found.type!r} is not "
                       f"a round of this feed ({', '.join(reading.round_types)})")
        return None
    if found.jackpot and found.status == "C" and reading.jackpot == "refuse":
        reading.refuse(Problem.ROW_REFUSED, call, f"line {line}, jackpot: a jackpot win of "
                       f"{found.jackpot} (option jackpot says whether win includes it)")
        return None
    return to_history_row(found, jackpot=reading.jackpot)


STATUSES = {"C": ProviderStatus.SETTLED, "V": ProviderStatus.CANCELLED,
            "I": ProviderStatus.PENDING}


def to_history_row(found: FinishedRound, *,
                   jackpot: Literal["refuse", "in_win", "added"] = "refuse") -> HistoryRow:
    """A feed line as betguard's row (see the module's docstring)."""
    parent = found.parentSessionID
    round_id = found.playSessionID if parent is None else parent
    status = STATUSES[found.status]
    final = found.status != "I"
    moment = found.endDate or found.startDate
    payout = found.win + (found.jackpot if jackpot == "added" else 0)
    return HistoryRow(
        row_id=f"{found.gameID}:{found.playSessionID}",
        bet_ref=f"{found.gameID}:{round_id}",
        status=status,
        version=2 * to_millis(moment) + (1 if final else 0),
        stake=found.bet,
        payout=payout if status is ProviderStatus.SETTLED else None,
        currency=found.currency,
        placed_at=found.startDate,
        settled_at=found.endDate if final else None,
    )


def timepoint_of(cursor: str | None) -> int:
    """The ``timepoint`` a cursor stands for (None: from the start)."""
    if cursor is None:
        return 0
    if not (cursor.isascii() and cursor.isdigit() and len(cursor) <= 15):
        raise ValueError(f"cursor {cursor[:40]!r} is not a feed timepoint (ms)")
    return int(cursor)

