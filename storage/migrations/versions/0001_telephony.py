"""Telephony: call records, calls, tariffs (seeded with the original tariff), priced calls.

Revision ID: 0001_telephony
Revises:
"""
from datetime import datetime, time, timezone
from decimal import Decimal

import sqlalchemy as sa
from alembic import op

revision = "0001_telephony"
down_revision = None
branch_labels = None
depends_on = None

PHONE = sa.String(11)
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "call_records",
        sa.Column("call_id", sa.Text, nullable=False),
        sa.Column("type", sa.String(5), nullable=False),
        sa.Column("record_id", sa.Text, nullable=False),
        sa.Column("timestamp", TIMESTAMP, nullable=False),
        sa.Column("source", PHONE),
        sa.Column("destination", PHONE),
        sa.Column("received_at", TIMESTAMP, nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("call_id", "type", name="pk_call_records"),
        sa.CheckConstraint("type IN ('start', 'end')", name="ck_call_records_type"),
    )
    op.create_table(
        "calls",
        sa.Column("call_id", sa.Text, nullable=False),
        sa.Column("source", PHONE, nullable=False),
        sa.Column("destination", PHONE, nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("ended_at", TIMESTAMP, nullable=False),
        sa.Column("completed_at", TIMESTAMP, nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("call_id", name="pk_calls"),
    )
    tariffs = op.create_table(
        "tariffs",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("effective_from", TIMESTAMP, nullable=False),
        sa.Column("standing_charge", sa.Numeric(12, 2), nullable=False),
        sa.Column("per_minute", sa.Numeric(12, 4), nullable=False),
        sa.Column("standard_start", sa.Time, nullable=False),
        sa.Column("standard_end", sa.Time, nullable=False),
        sa.Column("timezone", sa.Text, nullable=False, server_default="UTC"),
        sa.PrimaryKeyConstraint("id", name="pk_tariffs"),
        sa.UniqueConstraint("effective_from", name="uq_tariffs_effective_from"),
    )
    op.create_table(
        "priced_calls",
        sa.Column("call_id", sa.Text, nullable=False),
        sa.Column("source", PHONE, nullable=False),
        sa.Column("destination", PHONE, nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("ended_at", TIMESTAMP, nullable=False),
        sa.Column("duration_seconds", sa.Integer, nullable=False),
        sa.Column("price", sa.Numeric(12, 2), nullable=False),
        sa.Column("tariff_id", sa.String(64), nullable=False),
        sa.Column("period", sa.CHAR(7), nullable=False, comment="YYYY-MM, the UTC month the call ended in"),
        sa.Column("priced_at", TIMESTAMP, nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("call_id", name="pk_priced_calls"),
        sa.ForeignKeyConstraint(["tariff_id"], ["tariffs.id"], name="fk_priced_calls_tariff_id_tariffs"),
    )
    op.create_index("ix_priced_calls_source_period", "priced_calls", ["source", "period"])

    op.bulk_insert(
        tariffs,
        [
            {
                "id": "original",
                "name": "Original tariff (standard 06:00-22:00 UTC)",
                "effective_from": datetime(2000, 1, 1, tzinfo=timezone.utc),
                "standing_charge": Decimal("0.36"),
                "per_minute": Decimal("0.09"),
                "standard_start": time(6, 0),
                "standard_end": time(22, 0),
                "timezone": "UTC",
            }
        ],
    )


def downgrade() -> None:
    op.drop_index("ix_priced_calls_source_period", table_name="priced_calls")
    op.drop_table("priced_calls")
    op.drop_table("tariffs")
    op.drop_table("calls")
    op.drop_table("call_records")
