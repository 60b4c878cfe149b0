"""Event sessions: registered applications, sessions, events, and the events refused.

Ids and application names compare byte-wise (COLLATE "C"), the order Python sorts them in, so
"ties by id" means the same in a query and in code.
"""

from __future__ import annotations

from sqlalchemy import ARRAY, Column, Index, Integer, PrimaryKeyConstraint, String, Table, Text, Uuid, func
from sqlalchemy.dialects.postgresql import JSONB

from storage.tables import TIMESTAMP, metadata

BYTEWISE = Text(collation="C")

# Applications are RabbitMQ users (`switchboard apps add`); an event is attributed to one by
# its AMQP user_id. A revoked application keeps its row, so its refused events say so.
applications = Table(
    "applications",
    metadata,
    Column("name", BYTEWISE, primary_key=True),
    Column("created_at", TIMESTAMP, nullable=False, server_default=func.now()),
    Column("revoked_at", TIMESTAMP),
)

# One row per session, created by its first stored event; the aggregates only grow with
# events actually inserted (never twice for a redelivered one).
sessions = Table(
    "sessions",
    metadata,
    Column("session_id", Uuid(as_uuid=False), primary_key=True),
    Column("started_at", TIMESTAMP, nullable=False),
    Column("ended_at", TIMESTAMP, nullable=False),
    Column("event_count", Integer, nullable=False),
    Column("applications", ARRAY(Text), nullable=False),
    Column("created_at", TIMESTAMP, nullable=False, server_default=func.now()),
)

events = Table(
    "events",
    metadata,
    Column("application", BYTEWISE, nullable=False),
    Column("event_id", BYTEWISE, nullable=False),
    Column("session_id", Uuid(as_uuid=False), nullable=False),
    Column("category", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("timestamp", TIMESTAMP, nullable=False),
    Column("data", JSONB, nullable=False),
    Column("fingerprint", String(32), nullable=False, comment="digest of the content without the id"),
    Column("received_at", TIMESTAMP, nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("application", "event_id"),
    Index("ix_events_session_timeline", "session_id", "timestamp", "event_id", "application"),
    Index("ix_events_type_timestamp", "category", "name", "timestamp"),
    Index("ix_events_timestamp", "timestamp"),
    Index("ix_events_application_timestamp", "application", "timestamp"),
)

# Every refused event, once: error_id is a digest of the delivery (user_id, routing key, body),
# so a redelivered refusal is not stored twice.
event_errors = Table(
    "event_errors",
    metadata,
    Column("error_id", String(32), primary_key=True),
    Column("received_at", TIMESTAMP, nullable=False, server_default=func.now()),
    Column("application", Text, comment="the registered application that sent it, if any"),
    Column("user_id", Text, comment="the AMQP user_id as delivered (checked by the broker)"),
    Column("routing_key", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("body", Text, nullable=False, comment="the body as text, cut to a bounded size"),
    Column("body_bytes", Integer, nullable=False, comment="the size of the whole body"),
    Index("ix_event_errors_received_at", "received_at"),
    Index("ix_event_errors_application_received_at", "application", "received_at"),
)
