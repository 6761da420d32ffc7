"""Foreign provider dialects the simulator can speak instead of the generic contract.

Each dialect is one module that adds its provider routes to the app; the bets, their
fates, the registration lag, the wallet and the controls stay the simulator's own
(``SimState`` and ``/_sim/*``), so the truth a test reads is the same whatever the
dialect. ``python -m betguard_devkit.simulator --dialect NAME`` picks one.
"""

from __future__ import annotations

import importlib

from flask import Flask

from betguard_devkit.simulator.state import SimState

# dialect name -> module with ``add_routes(app, state, secret)``
DIALECTS = {
    "pgsoft": "betguard_devkit.simulator.pgsoft",
    "pragmatic": "betguard_devkit.simulator.pragmatic",
}
NAMES = ("generic", *DIALECTS)


def add_dialect_routes(dialect: str, app: Flask, state: SimState, secret: str) -> None:
    try:
        module = DIALECTS[dialect]
    except KeyError:
        raise ValueError(f"unknown dialect {dialect!r}; known: {', '.join(NAMES)}") from None
    importlib.import_module(module).add_routes(app, state, secret)
