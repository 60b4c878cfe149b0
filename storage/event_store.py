"""What the event-sessions consumer writes, a whole batch per statement.

Events and their sessions are written by one statement: the events are inserted (ON CONFLICT
DO NOTHING), and only the rows actually inserted update their sessions' aggregates, with an
upsert on the session id (INSERT ... ON CONFLICT DO UPDATE takes the row lock, so two
consumers that create the same session at once make one row, and each adds only its own
events). Rows are written in key order, sessions in id order: concurrent batches wait on each
other in one order, never in a cycle.
"""

from __future__ import annotations

from datetime import datetime
from typing import Collection, NamedTuple, Sequence

from sqlalchemy import bindparam, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection
from sqlalchemy.types import Text

from storage.bulk import BulkInsert
from storage.event_tables import applications, event_errors

EventKey = tuple[str, str]  # (application, event id)


class EventRow(NamedTuple):  # a tuple: made for every event, cheaply
    application: str
    event_id: str
    session_id: str
    category: str
    name: str
    timestamp: datetime
    data: str  # JSON text
    fingerprint: str

    @property
    def key(self) -> EventKey:
        return (self.application, self.event_id)


class ErrorRow(NamedTuple):
    error_id: str
    application: str | None
    user_id: str | None
    routing_key: str
    reason: str
    body: str
    body_bytes: int


_COLUMNS = ("application", "event_id", "session_id", "category", "name", "timestamp", "data", "fingerprint")
_TYPES = ("TEXT", "TEXT", "UUID", "TEXT", "TEXT", "TIMESTAMPTZ", "JSONB", "TEXT")

_INSERT_EVENTS = text(f"""
WITH inserted AS (
    INSERT INTO events ({", ".join(_COLUMNS)})
    SELECT * FROM unnest({", ".join(f"CAST(:{c} AS {t}[])" for c, t in zip(_COLUMNS, _TYPES, strict=True))})
    ON CONFLICT (application, event_id) DO NOTHING
    RETURNING application, event_id, session_id, timestamp
), touched AS (
    INSERT INTO sessions AS s (session_id, started_at, ended_at, event_count, applications)
    SELECT session_id, min(timestamp), max(timestamp), count(*),
           array_agg(DISTINCT application ORDER BY application)
    FROM inserted GROUP BY session_id ORDER BY session_id
    ON CONFLICT (session_id) DO UPDATE SET
        started_at = LEAST(s.started_at, EXCLUDED.started_at),
        ended_at = GREATEST(s.ended_at, EXCLUDED.ended_at),
        event_count = s.event_count + EXCLUDED.event_count,
        applications = ARRAY(SELECT DISTINCT a COLLATE "C" FROM unnest(s.applications || EXCLUDED.applications) AS a
                             ORDER BY 1)
    RETURNING 1
)
SELECT application, event_id FROM inserted
""")

_STORED_FINGERPRINTS = text(
    "SELECT e.application, e.event_id, e.fingerprint FROM events AS e "
    "JOIN unnest(:applications, :event_ids) AS k(application, event_id) "
    "ON e.application = k.application AND e.event_id = k.event_id"
).bindparams(bindparam("applications", type_=ARRAY(Text)), bindparam("event_ids", type_=ARRAY(Text)))

_INSERT_ERRORS = BulkInsert(
    event_errors, ["error_id", "application", "user_id", "routing_key", "reason", "body", "body_bytes"], ["error_id"])

_APPLICATIONS = select(applications.c.name, applications.c.revoked_at)


def registered_applications(conn: Connection) -> dict[str, datetime | None]:
    """Every application ever registered: name -> when it was revoked (None: active)."""
    return {row.name: row.revoked_at for row in conn.execute(_APPLICATIONS)}


def insert_events(conn: Connection, rows: Sequence[EventRow]) -> set[EventKey]:
    """Insert events not stored yet and update their sessions; returns the keys inserted."""
    if not rows:
        return set()
    ordered = sorted(rows, key=lambda row: row.key)
    arrays = {column: [getattr(row, column) for row in ordered] for column in _COLUMNS}
    arrays["timestamp"] = [value.isoformat() for value in arrays["timestamp"]]
    return {(row.application, row.event_id) for row in conn.execute(_INSERT_EVENTS, arrays)}


def stored_fingerprints(conn: Connection, keys: Collection[EventKey]) -> dict[EventKey, str]:
    if not keys:
        return {}
    ordered = sorted(keys)
    rows = conn.execute(_STORED_FINGERPRINTS, {"applications": [k[0] for k in ordered],
                                               "event_ids": [k[1] for k in ordered]})
    return {(row.application, row.event_id): row.fingerprint for row in rows}


def insert_errors(conn: Connection, rows: Sequence[ErrorRow]) -> None:
    if rows:
        _INSERT_ERRORS.execute_objects(conn, sorted({row.error_id: row for row in rows}.values(),
                                                    key=lambda row: row.error_id))
