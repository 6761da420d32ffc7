"""Adapters to the outside world: the game providers (one module per dialect, its wire
format beside it: ``generic``; ``pgsoft`` with ``pgsoft_wire``; ``pragmatic`` with
``pragmatic_wire`` and ``pragmatic_answers``; ``registry`` says which serves which
kind), the wallet and the game server's notifications, and what guards every call
(breakers, bulkheads, rate limits, ``guard``). The simulators of all of them are
developer tooling, in ``betguard_devkit.simulator``."""
