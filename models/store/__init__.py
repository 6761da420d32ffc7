"""The store: how bets, their history, reviews, the outbox, feeds and reconciliation are
kept in the database (SQLAlchemy 2.0, Alembic), and the named queries services ask of it."""
