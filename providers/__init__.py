"""Adapters to the outside world: game providers, the wallet, and a simulator of both."""
