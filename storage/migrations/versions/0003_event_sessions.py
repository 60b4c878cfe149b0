"""Event sessions: applications, sessions, events, event errors.

Revision ID: 0003_event_sessions
Revises: 0002_notifications
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003_event_sessions"
down_revision = "0002_notifications"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)
BYTEWISE = sa.Text(collation="C")


def upgrade() -> None:
    op.create_table(
        "applications",
        sa.Column("name", BYTEWISE, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False, server_default=sa.func.now()),
        sa.Column("revoked_at", TIMESTAMP),
        sa.PrimaryKeyConstraint("name", name="pk_applications"),
    )
    op.create_table(
        "sessions",
        sa.Column("session_id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("ended_at", TIMESTAMP, nullable=False),
        sa.Column("event_count", sa.Integer, nullable=False),
        sa.Column("applications", postgresql.ARRAY(sa.Text), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("session_id", name="pk_sessions"),
    )
    op.create_table(
        "events",
        sa.Column("application", BYTEWISE, nullable=False),
        sa.Column("event_id", BYTEWISE, nullable=False),
        sa.Column("session_id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("category", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("timestamp", TIMESTAMP, nullable=False),
        sa.Column("data", postgresql.JSONB, nullable=False),
        sa.Column("fingerprint", sa.String(32), nullable=False, comment="digest of the content without the id"),
        sa.Column("received_at", TIMESTAMP, nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("application", "event_id", name="pk_events"),
    )
    op.create_index("ix_events_session_timeline", "events", ["session_id", "timestamp", "event_id", "application"])
    op.create_index("ix_events_type_timestamp", "events", ["category", "name", "timestamp"])
    op.create_index("ix_events_timestamp", "events", ["timestamp"])
    op.create_index("ix_events_application_timestamp", "events", ["application", "timestamp"])
    op.create_table(
        "event_errors",
        sa.Column("error_id", sa.String(32), nullable=False),
        sa.Column("received_at", TIMESTAMP, nullable=False, server_default=sa.func.now()),
        sa.Column("application", sa.Text, comment="the registered application that sent it, if any"),
        sa.Column("user_id", sa.Text, comment="the AMQP user_id as delivered (checked by the broker)"),
        sa.Column("routing_key", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False, comment="the body as text, cut to a bounded size"),
        sa.Column("body_bytes", sa.Integer, nullable=False, comment="the size of the whole body"),
        sa.PrimaryKeyConstraint("error_id", name="pk_event_errors"),
    )
    op.create_index("ix_event_errors_received_at", "event_errors", ["received_at"])
    op.create_index("ix_event_errors_application_received_at", "event_errors", ["application", "received_at"])


def downgrade() -> None:
    op.drop_table("event_errors")
    op.drop_table("events")
    op.drop_table("sessions")
    op.drop_table("applications")
