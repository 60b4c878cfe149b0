"""The shared `metadata`, and the telephony tables (other domains add their own modules).

Timestamps are `timestamptz`, written and read as UTC. Money is NUMERIC.
"""

from __future__ import annotations

from sqlalchemy import (
    CHAR,
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    Time,
    func,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

PHONE = String(11)
TIMESTAMP = DateTime(timezone=True)

# Every accepted half of a call, as first received. (call_id, type) is the natural key:
# a later record with the same key is either a duplicate or a conflict, never an update.
call_records = Table(
    "call_records",
    metadata,
    Column("call_id", Text, nullable=False),
    Column("type", String(5), nullable=False),
    Column("record_id", Text, nullable=False),
    Column("timestamp", TIMESTAMP, nullable=False),
    Column("source", PHONE),
    Column("destination", PHONE),
    Column("received_at", TIMESTAMP, nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("call_id", "type"),
    CheckConstraint("type IN ('start', 'end')", name="type"),
)

calls = Table(
    "calls",
    metadata,
    Column("call_id", Text, primary_key=True),
    Column("source", PHONE, nullable=False),
    Column("destination", PHONE, nullable=False),
    Column("started_at", TIMESTAMP, nullable=False),
    Column("ended_at", TIMESTAMP, nullable=False),
    Column("completed_at", TIMESTAMP, nullable=False, server_default=func.now()),
)

tariffs = Table(
    "tariffs",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", Text, nullable=False),
    Column("effective_from", TIMESTAMP, nullable=False, unique=True),
    Column("standing_charge", Numeric(12, 2), nullable=False),
    Column("per_minute", Numeric(12, 4), nullable=False),
    Column("standard_start", Time, nullable=False),
    Column("standard_end", Time, nullable=False),
    Column("timezone", Text, nullable=False, server_default="UTC"),
)

# A price, once calculated, never changes: rows are inserted once and never updated.
priced_calls = Table(
    "priced_calls",
    metadata,
    Column("call_id", Text, primary_key=True),
    Column("source", PHONE, nullable=False),
    Column("destination", PHONE, nullable=False),
    Column("started_at", TIMESTAMP, nullable=False),
    Column("ended_at", TIMESTAMP, nullable=False),
    Column("duration_seconds", BigInteger, nullable=False),  # a call from 1970 may outlast 2**31 s
    Column("price", Numeric(12, 2), nullable=False),
    Column("tariff_id", String(64), ForeignKey("tariffs.id"), nullable=False),
    Column("period", CHAR(7), nullable=False, comment="YYYY-MM, the UTC month the call ended in"),
    Column("priced_at", TIMESTAMP, nullable=False, server_default=func.now()),
    Index("ix_priced_calls_source_period", "source", "period"),
)
