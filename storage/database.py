"""Engine creation, and creating the database when it does not exist yet."""

from __future__ import annotations

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url


def make_engine(database_url: str, **kwargs) -> Engine:
    url = make_url(database_url).set(drivername="postgresql+psycopg2")
    return create_engine(url, pool_pre_ping=True, future=True, **kwargs)


def ensure_database(database_url: str) -> bool:
    """Create the database named in the URL if missing. Returns True when it was created."""
    url = make_url(database_url).set(drivername="postgresql+psycopg2")
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": url.database}
            ).scalar()
            if exists:
                return False
            conn.execute(text(f'CREATE DATABASE "{url.database}"'))
            return True
    finally:
        admin.dispose()


def drop_database(database_url: str) -> None:
    url = make_url(database_url).set(drivername="postgresql+psycopg2")
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
    finally:
        admin.dispose()
