"""Alembic environment: the URL comes from the caller (``betguard.models.store.migrate``), never
from a file."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from betguard.models.store.tables import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url, "betguard.models.store.migrate passes sqlalchemy.url"  # noqa: S101
    engine = create_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
