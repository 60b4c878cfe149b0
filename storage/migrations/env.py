"""Alembic environment: the URL comes from the caller (storage.migrate), never from a file."""

from alembic import context
from sqlalchemy import pool

from storage.database import make_engine
from storage.schema import metadata

config = context.config


def run_migrations_online() -> None:
    engine = make_engine(config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
