"""A game provider and platform wallet simulator, run as its own HTTP process.

The simulator decides each registered bet's fate (result returned at once,
delayed, never, or never seen by the provider), answers the provider contract
and the wallet's refund endpoint over real HTTP with real signatures, injects
faults on demand, and keeps its own truth so tests can compare betguard's
outcomes with what really happened.
"""

from __future__ import annotations

from betguard_devkit.simulator.knobs import KnobError, Knobs
from betguard_devkit.simulator.state import SimState

__all__ = ["KnobError", "Knobs", "SimState", "create_app"]


def __getattr__(name: str) -> object:
    """Import the Flask app lazily, so the pure state can be used without Flask."""
    if name == "create_app":
        from betguard_devkit.simulator.app import create_app

        return create_app
    raise AttributeError(name)
