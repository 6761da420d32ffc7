"""What a bet is, and how it is stored -- two halves that import one way (the
import-linter contracts in pyproject.toml):

- the domain, plain Python: states and transitions (the one writer of a bet's state),
  decisions (a decision or an operator's resolution becoming a change), escalation,
  schedule, freshness, money, times, refs, hands and rounds, answers, events, errors,
  the snapshot, the outbox kinds and the policy value type;
- persistence, on SQLAlchemy: the tables and column types, the database, the
  compare-and-set repository, bulk statements built from the tables, the feed mirror,
  and the Alembic migrations.
"""
