"""Reading events back: a session's timeline, events by type, application and time, errors.

Every query is served by an index of storage/event_tables.py: the timeline by
(session_id, timestamp, event_id, application), events by (category, name, timestamp),
(application, timestamp) or (timestamp), errors by (received_at) or (application, received_at).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Connection

from schemas.events import Session, StoredEvent, timeline
from storage.event_tables import event_errors, events, sessions


@dataclass(frozen=True)
class EventFilter:
    category: str | None = None
    name: str | None = None
    application: str | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive
    limit: int = 1000


_EVENT_COLUMNS = (events.c.event_id, events.c.category, events.c.name, events.c.timestamp, events.c.application,
                  events.c.data)
_TIMELINE_ORDER = (events.c.timestamp, events.c.event_id, events.c.application)


def session(conn: Connection, session_id: str) -> Session | None:
    found = conn.execute(select(sessions).where(sessions.c.session_id == session_id)).first()
    if found is None:
        return None
    rows = conn.execute(select(*_EVENT_COLUMNS).where(events.c.session_id == session_id).order_by(*_TIMELINE_ORDER))
    return Session(session_id=found.session_id, started_at=found.started_at, ended_at=found.ended_at,
                   applications=found.applications, events=timeline(_stored(row) for row in rows))


def find_events(conn: Connection, wanted: EventFilter) -> list[StoredEvent]:
    query = select(*_EVENT_COLUMNS)
    for column, value in ((events.c.category, wanted.category), (events.c.name, wanted.name),
                          (events.c.application, wanted.application)):
        if value is not None:
            query = query.where(column == value)
    query = _in_range(query, events.c.timestamp, wanted.since, wanted.until)
    return [_stored(row) for row in conn.execute(query.order_by(*_TIMELINE_ORDER).limit(wanted.limit))]


def find_errors(conn: Connection, since: datetime | None = None, until: datetime | None = None,
                application: str | None = None, limit: int = 1000) -> list[dict]:
    query = select(event_errors.c.received_at, event_errors.c.application, event_errors.c.reason,
                   event_errors.c.body)
    if application is not None:
        query = query.where(event_errors.c.application == application)
    query = _in_range(query, event_errors.c.received_at, since, until)
    rows = conn.execute(query.order_by(event_errors.c.received_at, event_errors.c.error_id).limit(limit))
    return [dict(row._mapping) for row in rows]


def _in_range(query, column, since: datetime | None, until: datetime | None):
    if since is not None:
        query = query.where(column >= since)
    if until is not None:
        query = query.where(column < until)
    return query


def _stored(row) -> StoredEvent:
    return StoredEvent(id=row.event_id, category=row.category, name=row.name, timestamp=row.timestamp,
                       application=row.application, data=row.data)
