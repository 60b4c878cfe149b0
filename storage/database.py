"""Engine creation, and creating the database when it does not exist yet.

Every engine is made here, with `hide_parameters=True`: a statement's parameters are the
records being written (phone numbers, addresses, message text), and SQLAlchemy would
otherwise quote them in every error message, which ends up in logs and dead-letter reasons.
"""

from __future__ import annotations

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import NullPool


def make_engine(database_url: str, **kwargs) -> Engine:
    url = make_url(database_url).set(drivername="postgresql+psycopg2")
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, future=True, hide_parameters=True, **kwargs)


def _admin_engine(database_url: str) -> Engine:
    """An engine on the server's `postgres` database, for CREATE/DROP DATABASE."""
    return make_engine(make_url(database_url).set(database="postgres").render_as_string(hide_password=False),
                       isolation_level="AUTOCOMMIT")


def ensure_database(database_url: str) -> bool:
    """Create the database named in the URL if missing. Returns True when it was created."""
    name = make_url(database_url).database
    admin = _admin_engine(database_url)
    try:
        with admin.connect() as conn:
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}).scalar()
            if exists:
                return False
            conn.execute(text(f'CREATE DATABASE "{name}"'))
            return True
    finally:
        admin.dispose()


def drop_database(database_url: str) -> None:
    admin = _admin_engine(database_url)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(database_url).database}" WITH (FORCE)'))
    finally:
        admin.dispose()


def libpq_dsn(database_url: str) -> str:
    """The SQLAlchemy URL as libpq (psycopg2.connect) takes it."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def database_reachable(database_url: str, timeout_s: int = 2) -> bool:
    """One short connection and `SELECT 1` (for readiness probes): True if PostgreSQL answers."""
    engine = make_engine(database_url, poolclass=NullPool, connect_args={"connect_timeout": timeout_s})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001 - any failure means "not reachable"
        return False
    finally:
        engine.dispose()
