"""What a bet reference may be, as one rule for the intake, the API's paths and the
OpenAPI document.

A reference is 1 to 128 of ``A-Z a-z 0-9 . _ : @ / -``. Two more rules keep every
URL built from it meaning one thing:

- no segment (between slashes) is ``.`` or ``..``: the reference goes into the
  provider's URL (``GET /bets/{ref}``), where those would make it another URL;
- the last segment is not the name of a bet's action (``result``, ``cancelled``,
  ``resolve``, ``recheck``): betguard's own URLs put the action after the reference
  (``/bets/{provider}/{ref}/recheck``), so ``/bets/p/x/recheck`` could otherwise
  name the bet ``x/recheck`` as well as the re-check of ``x``.
"""

from __future__ import annotations

ACTIONS = ("result", "cancelled", "resolve", "recheck")
MAX_LENGTH = 128
CHARACTERS = r"[A-Za-z0-9._:@/-]"
# What pydantic checks in its compiled core (which has no lookahead) ...
CHARACTERS_PATTERN = rf"^{CHARACTERS}+$"
# ... and the whole rule, for the document: the same characters, no "." or ".." segment,
# no action as the last segment.
PATTERN = (r"^(?!(?:.*/)?\.\.?(?:/|$))"
           rf"(?!.*/(?:{'|'.join(ACTIONS)})$)"
           rf"{CHARACTERS}+$")


def check_bet_ref(value: str) -> str:
    """``value`` unchanged if the two rules above allow it; otherwise a ``ValueError``
    saying which, so it serves as a pydantic ``AfterValidator`` (after the characters
    and the length are checked)."""
    segments = value.split("/")
    if any(segment in (".", "..") for segment in segments):
        raise ValueError("must not be '.' or '..' (alone or between slashes): "
                         "it would change the provider's URL")
    if len(segments) > 1 and segments[-1] in ACTIONS:
        raise ValueError(f"must not end in '/{segments[-1]}': that URL is the bet's "
                         f"{segments[-1]} action")
    return value

