"""Provider plans: every plan ever seen, kept for good (../shared/specs/plans.md).

The search asks for plans that overlap a time range; the GiST index on the closed range
[starts_at, ends_at] of the plans ever online serves it (the query adds the strict bounds).
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Index, Numeric, PrimaryKeyConstraint, Table, Text, Uuid, func, literal_column

from storage.tables import TIMESTAMP, metadata

plans = Table(
    "plans",
    metadata,
    Column("base_plan_id", Text, nullable=False),
    Column("plan_id", Text, nullable=False),
    Column("id", Uuid(as_uuid=False), nullable=False, unique=True, comment="the plan's public id, stable"),
    Column("title", Text, nullable=False),
    Column("sell_mode", Text, nullable=False, comment="at the last sighting"),
    Column("starts_at", TIMESTAMP, nullable=False),
    Column("ends_at", TIMESTAMP, nullable=False),
    Column("min_price", Numeric(12, 2), comment="of its zones at the last sighting; null without zones"),
    Column("max_price", Numeric(12, 2)),
    Column("ever_online", Boolean, nullable=False, comment="searchable: it was online at some sighting"),
    Column("first_seen", TIMESTAMP, nullable=False),
    Column("last_seen", TIMESTAMP, nullable=False),
    Column("content_id", Text, nullable=False, comment="the message id of the last sighting's content"),
    Column("search_entry", Text, nullable=False,
           comment="its entry in the search document, as JSON: written with the sighting (storage/plans.py)"),
    PrimaryKeyConstraint("base_plan_id", "plan_id", name="pk_plans"),
    Index("ix_plans_online_period", func.tstzrange(literal_column("starts_at"), literal_column("ends_at"),
                                                    literal_column("'[]'")),
          postgresql_using="gist", postgresql_where=literal_column("ever_online")),
)
