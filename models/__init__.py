"""What a bet is, and how it is stored: two halves, each its own package, that import one
way (the import-linter contracts in pyproject.toml).

- :mod:`betguard.models.domain` -- plain Python, no SQLAlchemy: states and transitions
  (the one writer of a bet's state), decisions (a decision or an operator's resolution
  becoming a change), escalation, schedule, freshness, money, times, refs, hands and
  rounds, answers, events, errors, the snapshot, the outbox kinds and the policy value
  type.
- :mod:`betguard.models.store` -- persistence, on SQLAlchemy: the tables and column
  types, the database and its units of work, the compare-and-set repository, the named
  queries services ask, bulk statements built from the tables, the feed mirror, and the
  Alembic migrations.

The rule for a new module: if it can be written without a database, it belongs to the
domain; the store may import the domain, never the other way round.
"""
