"""Who is calling: an API key, stored only as its SHA-256, and the role it carries.

A game server may register bets, report results and read a bet; an operator may do
all that and work the review queue; an approver may also approve another key's (or
person's) four-eyes proposal. The key's name is the actor in audit events.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from betguard.config.settings import ApiKey
from betguard.models.domain.access import Actor
from betguard.models.domain.access import Role as AccessRole

Role = Literal["game_server", "operator", "approver"]
CHALLENGE = {"WWW-Authenticate": "Bearer"}

bearer_scheme = HTTPBearer(auto_error=False, description="Authorization: Bearer <API key>")
header_scheme = APIKeyHeader(name="X-API-Key", auto_error=False, description="X-API-Key: <key>")


@dataclass(frozen=True)
class Caller:
    name: str
    role: Role

    @property
    def actor(self) -> Actor:
        """The caller as a person's decisions name it (``betguard.models.domain.access``)."""
        role = AccessRole.APPROVER if self.role == "approver" else AccessRole.OPERATOR
        return Actor(self.name, role if self.role != "game_server" else AccessRole.VIEWER,
                     "api")


class KeyRing:
    """The configured keys. Every key is compared, in constant time, whatever matches,
    so the time taken says nothing about which hash came close."""

    def __init__(self, keys: Sequence[ApiKey]) -> None:
        self._keys = list(keys)

    def identify(self, presented: str) -> Caller | None:
        digest = hashlib.sha256(presented.encode("utf-8")).hexdigest()
        found: Caller | None = None
        for key in self._keys:
            if hmac.compare_digest(digest, key.sha256) and found is None:
                found = Caller(key.name, key.role)
        return found


async def authenticate(  # coroutines, like every dependency doing no I/O: see params.py
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)],
    header_key: Annotated[str | None, Security(header_scheme)],
) -> Caller:
    """The caller behind the request's key; 401 (with a Bearer challenge) otherwise."""
    presented = bearer.credentials if bearer is not None else header_key
    ring: KeyRing = request.app.state.keys
    caller = ring.identify(presented) if presented else None
    if caller is None:
        raise HTTPException(401, "missing or unknown API key", headers=CHALLENGE)
    return caller


def allow(*roles: Role) -> Callable[[Caller], Awaitable[Caller]]:
    """A dependency admitting only callers with one of ``roles`` (403 for the others)."""

    async def admitted(caller: Annotated[Caller, Depends(authenticate)]) -> Caller:
        if caller.role not in roles:
            raise HTTPException(403, f"the {caller.role} role may not do this")
        return caller

    return admitted


AnyCaller = Annotated[Caller, Depends(allow("game_server", "operator", "approver"))]
Operator = Annotated[Caller, Depends(allow("operator", "approver"))]
