"""One figure of the run: the value measured, the reference measured beside it, their
ratio and whether the target holds."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Figure:
    key: str  # the JSON key, one per target
    title: str
    value: float
    unit: str
    reference: float | None  # what the value is compared to (None: an absolute bound)
    reference_label: str
    ratio: float | None  # value / reference
    target: str  # the target in words, e.g. ">= 10x"
    met: bool
    size: str = ""  # the scenario's size, as run
    notes: dict[str, Any] = field(default_factory=dict)  # supporting figures

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("key")
        return data


def ratio(value: float, reference: float | None) -> float | None:
    if reference is None or reference == 0:
        return None
    return value / reference
