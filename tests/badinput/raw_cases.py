"""Request bodies that are not a bet at all, for ``POST /bets``: each with the status
and the problem fields it must be answered with."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from tests.badinput.bet_cases import PROVIDER
from tests.badinput.cases import case_param
from tests.integration.harness import bet_payload

JSON = "application/json"
DEEP = 10_000
BODY_LIMIT = 1_000_000  # BETGUARD_API_MAX_BODY_BYTES' default


@dataclass(frozen=True)
class RawBody:
    name: str
    body: Callable[[str], bytes]  # from a fresh bet reference
    content_type: str | None
    status: int
    fields: frozenset[str]  # the problems' fields; any of them when several could be named
    bug: str | None = None

    def param(self) -> object:
        return case_param(self, self.name, self.bug)


def bet(ref: str) -> str:
    return json.dumps(bet_payload(PROVIDER, ref))


def with_field(ref: str, raw: str) -> bytes:
    """A valid bet with one more field, written as raw JSON text."""
    return (bet(ref)[:-1] + f', "extra": {raw}}}').encode()


BODY = frozenset({"(body)"})
RAW_BODIES = [
    RawBody("not JSON", lambda _r: b"{not json", JSON, 422, BODY),
    RawBody("a JSON array", lambda r: f"[{bet(r)}]".encode(), JSON, 422, BODY),
    RawBody("a JSON string", lambda _r: b'"a bet"', JSON, 422, BODY),
    RawBody("JSON null", lambda _r: b"null", JSON, 422, BODY),
    RawBody("a JSON number", lambda _r: b"42", JSON, 422, BODY),
    RawBody("an empty body", lambda _r: b"", JSON, 422, BODY),
    RawBody("a bet with trailing garbage", lambda r: bet(r).encode() + b" xyz", JSON, 422, BODY),
    RawBody("a raw NUL inside a string", lambda r: bet(r).replace("player-1", "p\x00").encode(),
            JSON, 422, BODY),
    RawBody("a bet as text/plain", lambda r: bet(r).encode(), "text/plain", 422, BODY),
    RawBody("a bet as a form", lambda r: f"provider={PROVIDER}&bet_ref={r}".encode(),
            "application/x-www-form-urlencoded", 422, BODY),
    RawBody("a stake of 1e999", lambda r: bet(r).replace('"10.00"', "1e999").encode(), JSON,
            422, frozenset({"stake"})),
    RawBody("an extra field nested 500 deep", lambda r: with_field(r, "[" * 500 + "]" * 500),
            JSON, 422, frozenset({"extra"})),
    RawBody("arrays nested 10 000 deep", lambda _r: b"[" * DEEP + b"]" * DEEP, JSON, 422, BODY),
    RawBody("a field nested 10 000 deep", lambda r: with_field(r, "[" * DEEP + "]" * DEEP), JSON,
            422, BODY | {"extra"}),
    RawBody("bytes that are not UTF-8", lambda _r: b'{"provider": "\xff\xfe"}', JSON, 422, BODY),
    RawBody("a stake of 5000 digits", lambda r: bet(r).replace('"10.00"', "9" * 5000).encode(),
            JSON, 422, BODY | {"stake"}),
    RawBody("a bet over 1 MB", lambda r: with_field(r, json.dumps("x" * BODY_LIMIT)), JSON, 413,
            frozenset()),
]
