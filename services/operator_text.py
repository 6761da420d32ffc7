"""Free text an operator sends (names, notes, references): checked before it is stored.

PostgreSQL's text cannot hold a NUL character: refused here, naming the field, it is
bad input (422, an ``error:`` line) instead of a database error (500).
"""

from __future__ import annotations

from betguard.models.domain.errors import InvalidCommand

MAX_TEXT = 2000
# The rule below as a JSON Schema pattern: no NUL, and one character that is neither a
# NUL nor white space (those for which str.isspace() is true, which str.strip() removes).
_SPACE = r"\t\n\x0b\x0c\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
TEXT_PATTERN = rf"^[^\x00]*[^\x00{_SPACE}][^\x00]*$"


def require_text(value: object, name: str) -> str:
    """Refuse an empty or missing text, one with a NUL character, or one too long."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidCommand(f"{name}: must not be empty")
    if "\x00" in value:
        raise InvalidCommand(f"{name}: must not contain a NUL character")
    if len(value) > MAX_TEXT:
        raise InvalidCommand(f"{name}: must be at most {MAX_TEXT} characters")
    return value
