"""The simulator's pragmatic-like provider routes (being written)."""

from __future__ import annotations

from flask import Flask

from providers.simulator.state import SimState


def add_routes(app: Flask, state: SimState, secret: str) -> None:
    """Add the dialect's provider routes to app."""
