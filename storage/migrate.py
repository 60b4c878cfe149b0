"""Run alembic migrations programmatically (`switchboard migrate`), and check a database is current."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from storage.database import ensure_database

_INI = Path(__file__).with_name("alembic.ini")


def alembic_config(database_url: str | None = None) -> Config:
    config = Config(str(_INI))
    if database_url is not None:
        # ConfigParser interpolation: a literal % in the URL must be doubled.
        config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> bool:
    """Create the database if missing, then migrate it. Returns True if it was created."""
    created = ensure_database(database_url)
    command.upgrade(alembic_config(database_url), revision)
    return created


def schema_problem(connection: Connection) -> str | None:
    """None when the database is at the migration head of this code; otherwise what is wrong
    and what to do about it."""
    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    current = set(MigrationContext.configure(connection).get_current_heads())
    if current == heads:
        return None
    if not current:
        return "the database has no Switchboard schema yet: run `switchboard migrate`"
    return (f"the database schema is at revision {', '.join(sorted(current))} but this code needs "
            f"{', '.join(sorted(heads))}: run `switchboard migrate`")
