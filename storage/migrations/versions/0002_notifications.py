"""Notifications: contacts (a value and a time per field), notification requests, deliveries per
channel (with the partial index the dispatchers claim from), orders and their valid events.

Revision ID: 0002_notifications
Revises: 0001_telephony
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002_notifications"
down_revision = "0001_telephony"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "contacts",
        sa.Column("id", sa.Text, nullable=False),
        *[column for field, kind in (("name", sa.Text), ("email", sa.Text), ("phone", sa.Text),
                                     ("email_enabled", sa.Boolean), ("sms_enabled", sa.Boolean))
          for column in (sa.Column(field, kind), sa.Column(f"{field}_at", TIMESTAMP))],
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_contacts"),
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("contact_id", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("send_at", TIMESTAMP),
        sa.Column("channels", postgresql.ARRAY(sa.Text)),
        sa.Column("fingerprint", sa.Text, nullable=False,
                  comment="hash of the request: the same id with other content is refused"),
        sa.Column("requested_at", TIMESTAMP, nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id", name="pk_notifications"),
    )
    op.create_table(
        "deliveries",
        sa.Column("notification_id", sa.Text, nullable=False),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("contact_id", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("attempts", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("segments", sa.Integer),
        sa.Column("due_at", TIMESTAMP, comment="while scheduled: when the next attempt may go out"),
        sa.Column("created_at", TIMESTAMP, nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", TIMESTAMP, nullable=False, server_default=sa.func.now()),
        sa.Column("sent_at", TIMESTAMP),
        sa.PrimaryKeyConstraint("notification_id", "channel", name="pk_deliveries"),
        sa.CheckConstraint("channel IN ('email', 'sms')", name="ck_deliveries_channel"),
        sa.CheckConstraint("status IN ('scheduled', 'sent', 'skipped', 'failed')", name="ck_deliveries_status"),
    )
    op.create_index("ix_deliveries_due", "deliveries", ["channel", "due_at"],
                    postgresql_where=sa.text("status = 'scheduled'"))
    op.create_index("ix_deliveries_contact_id", "deliveries", ["contact_id"])
    op.create_table(
        "orders",
        sa.Column("order_id", sa.Text, nullable=False),
        sa.Column("customer_id", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("status_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("order_id", name="pk_orders"),
    )
    op.create_table(
        "order_events",
        sa.Column("order_id", sa.Text, nullable=False),
        sa.Column("event_key", sa.Text, nullable=False),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("customer_id", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("previous_status", sa.Text),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.Column("items", postgresql.JSONB),
        sa.Column("total", sa.Numeric(12, 2)),
        sa.Column("received_at", TIMESTAMP, nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("order_id", "event_key", name="pk_order_events"),
    )


def downgrade() -> None:
    op.drop_table("order_events")
    op.drop_table("orders")
    op.drop_index("ix_deliveries_contact_id", table_name="deliveries")
    op.drop_index("ix_deliveries_due", table_name="deliveries")
    op.drop_table("deliveries")
    op.drop_table("notifications")
    op.drop_table("contacts")
