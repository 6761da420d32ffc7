"""The domain: what a bet is and which changes of it are allowed, in plain Python (no
SQLAlchemy, no network, no queue -- an import-linter contract keeps it so)."""
