"""Helpers every test layer may use: plain Python, no service, no harness (the unit
tests import them too, and must load no integration code)."""
