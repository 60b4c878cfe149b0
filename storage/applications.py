"""The registered applications (`switchboard apps`): the event-sessions consumer reads them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Connection
from sqlalchemy.sql import func

from storage.event_tables import applications


def active_applications(conn: Connection) -> list[dict]:
    query = (select(applications.c.name, applications.c.created_at)
             .where(applications.c.revoked_at.is_(None)).order_by(applications.c.name))
    return [dict(row._mapping) for row in conn.execute(query)]


def find_application(conn: Connection, name: str) -> dict | None:
    row = conn.execute(select(applications).where(applications.c.name == name)).first()
    return None if row is None else dict(row._mapping)


def register_application(conn: Connection, name: str) -> None:
    """Register `name` (again, if it was revoked): from now on its events are attributed to it."""
    statement = pg_insert(applications).values(name=name)
    conn.execute(statement.on_conflict_do_update(
        index_elements=[applications.c.name],
        set_={"created_at": func.now(), "revoked_at": None}))


def revoke_application(conn: Connection, name: str) -> datetime | None:
    """Mark `name` revoked; returns when, or None if it was not an active application."""
    statement = (update(applications).where(applications.c.name == name, applications.c.revoked_at.is_(None))
                 .values(revoked_at=func.now()).returning(applications.c.revoked_at))
    return conn.execute(statement).scalar_one_or_none()
