"""The simulator's knobs: fate shares, latency and fault rates.

Knobs are an immutable value: a change validates every key first and then
replaces the whole value, so a bad request never leaves half of a change
applied and readers never see a torn set of knobs.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


class KnobError(ValueError):
    """A knob change was refused; ``key`` names the offending knob."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key


@dataclass(frozen=True)
class Knobs:
    """Everything that can be tuned at start (``--knobs``) or at runtime."""

    latency_ms: float = 0.0
    error_rate: float = 0.0
    timeout_rate: float = 0.0
    timeout_seconds: float = 5.0
    malformed_rate: float = 0.0
    bad_signature_rate: float = 0.0
    outage: bool = False
    outage_windows: tuple[tuple[float, float], ...] = ()
    wallet_error_rate: float = 0.0
    wallet_timeout_rate: float = 0.0
    share_returned: float = 0.7
    share_delayed: float = 0.15
    share_never: float = 0.1
    share_unknown: float = 0.05
    delay_range: tuple[float, float] = (1.0, 5.0)
    # Seconds after registration during which the provider answers 404 for a bet
    # (eventual consistency), drawn per bet when its spec gives no "lag".
    registration_lag_range: tuple[float, float] = (0.0, 0.0)
    # Whether a cancel of a bet the provider does not know (yet) leaves a tombstone that
    # refuses its late registration; false: such a cancel answers 404 and fences nothing.
    tombstones: bool = True
    # Foreign dialects' history feeds: how late a bet's record shows in the feed after it
    # is known or settled (drawn per record), the shortest gap between two calls of one
    # feed (a call sooner gets the dialect's "too often" error), and after how long the
    # provider resolves a still-pending bet itself (0: never).
    feed_lag_range: tuple[float, float] = (0.0, 0.0)
    feed_min_interval: float = 0.0
    self_resolve_after: float = 0.0
    # PG-like feed: the share of rounds with free spins (their result comes as two more
    # hands, the payout split between them).
    free_spin_share: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form (tuples become lists)."""
        data = dataclasses.asdict(self)
        data["outage_windows"] = [list(window) for window in self.outage_windows]
        data["delay_range"] = list(self.delay_range)
        data["registration_lag_range"] = list(self.registration_lag_range)
        data["feed_lag_range"] = list(self.feed_lag_range)
        return data

    def updated(self, changes: object) -> Knobs:
        """Return a copy with ``changes`` applied, or raise :class:`KnobError`."""
        if not isinstance(changes, Mapping):
            raise KnobError("knobs", "must be a JSON object")
        values: dict[str, Any] = {}
        for key, raw in changes.items():
            check = _CHECKS.get(str(key))
            if check is None:
                raise KnobError(str(key), "unknown knob")
            values[str(key)] = check(str(key), raw)
        result = dataclasses.replace(self, **values)
        if result.fate_shares_total() <= 0:
            raise KnobError("share_returned", "the fate shares must not all be zero")
        return result

    def fate_shares_total(self) -> float:
        return self.share_returned + self.share_delayed + self.share_never + self.share_unknown

    def in_outage(self, elapsed: float) -> bool:
        """Whether the provider is down ``elapsed`` seconds after the simulator started."""
        if self.outage:
            return True
        return any(start <= elapsed < end for start, end in self.outage_windows)


def _number(key: str, raw: object) -> float:
    # bool is an int in Python; a knob given as true/false is a mistake, not 1/0.
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        raise KnobError(key, "must be a finite number")
    return float(raw)


def _non_negative(key: str, raw: object) -> float:
    value = _number(key, raw)
    if value < 0:
        raise KnobError(key, "must not be negative")
    return value


def _rate(key: str, raw: object) -> float:
    value = _number(key, raw)
    if not 0.0 <= value <= 1.0:
        raise KnobError(key, "must be between 0 and 1")
    return value


def _flag(key: str, raw: object) -> bool:
    if not isinstance(raw, bool):
        raise KnobError(key, "must be true or false")
    return raw


def _interval(key: str, raw: object) -> tuple[float, float]:
    if not isinstance(raw, list | tuple) or len(raw) != 2:
        raise KnobError(key, "must be a pair [start, end]")
    start, end = _non_negative(key, raw[0]), _non_negative(key, raw[1])
    if start > end:
        raise KnobError(key, "start must not be after end")
    return (start, end)


def _windows(key: str, raw: object) -> tuple[tuple[float, float], ...]:
    if not isinstance(raw, list | tuple):
        raise KnobError(key, "must be a list of [start, end] pairs")
    return tuple(_interval(key, window) for window in raw)


_CHECKS: dict[str, Callable[[str, object], Any]] = {
    "latency_ms": _non_negative,
    "error_rate": _rate,
    "timeout_rate": _rate,
    "timeout_seconds": _non_negative,
    "malformed_rate": _rate,
    "bad_signature_rate": _rate,
    "outage": _flag,
    "outage_windows": _windows,
    "wallet_error_rate": _rate,
    "wallet_timeout_rate": _rate,
    "share_returned": _non_negative,
    "share_delayed": _non_negative,
    "share_never": _non_negative,
    "share_unknown": _non_negative,
    "delay_range": _interval,
    "registration_lag_range": _interval,
    "tombstones": _flag,
    "feed_lag_range": _interval,
    "feed_min_interval": _non_negative,
    "self_resolve_after": _non_negative,
    "free_spin_share": _rate,
}
