"""Run alembic migrations programmatically (`switchboard migrate`)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from storage.database import ensure_database

_INI = Path(__file__).with_name("alembic.ini")


def alembic_config(database_url: str) -> Config:
    config = Config(str(_INI))
    # ConfigParser interpolation: a literal % in the URL must be doubled.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> bool:
    """Create the database if missing, then migrate it. Returns True if it was created."""
    created = ensure_database(database_url)
    command.upgrade(alembic_config(database_url), revision)
    return created
