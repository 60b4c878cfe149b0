"""Tables of the notifications domain: contacts, notification requests, their deliveries per
channel, and coffee-shop orders with the history of their valid events."""

from __future__ import annotations

from sqlalchemy import (
    ARRAY,
    Boolean,
    CheckConstraint,
    Column,
    Index,
    Integer,
    Numeric,
    PrimaryKeyConstraint,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from storage.tables import TIMESTAMP, metadata

# One column per field and the time of the update that set it: a partial update sets a field
# only if it is newer than what set it before (each field's last writer wins, in any order).
contacts = Table(
    "contacts",
    metadata,
    Column("id", Text, primary_key=True),
    Column("name", Text),
    Column("name_at", TIMESTAMP),
    Column("email", Text),
    Column("email_at", TIMESTAMP),
    Column("phone", Text),
    Column("phone_at", TIMESTAMP),
    Column("email_enabled", Boolean),
    Column("email_enabled_at", TIMESTAMP),
    Column("sms_enabled", Boolean),
    Column("sms_enabled_at", TIMESTAMP),
    Column("updated_at", TIMESTAMP, nullable=False),
)

notifications = Table(
    "notifications",
    metadata,
    Column("id", Text, primary_key=True),
    Column("contact_id", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("send_at", TIMESTAMP),
    Column("channels", ARRAY(Text)),
    Column("fingerprint", Text, nullable=False, comment="hash of the request: the same id with other content is refused"),
    Column("requested_at", TIMESTAMP, nullable=False, server_default=func.now()),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("notification_id", Text, nullable=False),
    Column("channel", Text, nullable=False),
    Column("contact_id", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("reason", Text),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("segments", Integer),
    Column("due_at", TIMESTAMP, comment="while scheduled: when the next attempt may go out"),
    Column("created_at", TIMESTAMP, nullable=False, server_default=func.now()),
    Column("updated_at", TIMESTAMP, nullable=False, server_default=func.now()),
    Column("sent_at", TIMESTAMP),
    PrimaryKeyConstraint("notification_id", "channel"),
    CheckConstraint("channel IN ('email', 'sms')", name="channel"),
    CheckConstraint("status IN ('scheduled', 'sent', 'skipped', 'failed')", name="status"),
    Index("ix_deliveries_due", "channel", "due_at", postgresql_where=text("status = 'scheduled'")),
    Index("ix_deliveries_contact_id", "contact_id"),
)

orders = Table(
    "orders",
    metadata,
    Column("order_id", Text, primary_key=True),
    Column("customer_id", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("status_at", TIMESTAMP, nullable=False),
    Column("updated_at", TIMESTAMP, nullable=False, server_default=func.now()),
)

order_events = Table(
    "order_events",
    metadata,
    Column("order_id", Text, nullable=False),
    Column("event_key", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("customer_id", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("previous_status", Text),
    Column("at", TIMESTAMP, nullable=False),
    Column("items", JSONB),
    Column("total", Numeric(12, 2)),
    Column("received_at", TIMESTAMP, nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("order_id", "event_key"),
)
