"""Free text an operator sends (names, notes, references): checked before it is stored.

PostgreSQL's text cannot hold a NUL character: refused here, naming the field, it is
bad input (422, an ``error:`` line) instead of a database error (500).
"""

from __future__ import annotations

from betguard.models.errors import InvalidCommand

MAX_TEXT = 2000


def require_text(value: object, name: str) -> str:
    """Refuse an empty or missing text, one with a NUL character, or one too long."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidCommand(f"{name}: must not be empty")
    if "\x00" in value:
        raise InvalidCommand(f"{name}: must not contain a NUL character")
    if len(value) > MAX_TEXT:
        raise InvalidCommand(f"{name}: must be at most {MAX_TEXT} characters")
    return value
