"""Provider plans.

Revision ID: 0004_plans
Revises: 0003_event_sessions
"""
import sqlalchemy as sa
from alembic import op

revision = "0004_plans"
down_revision = "0003_event_sessions"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "plans",
        sa.Column("base_plan_id", sa.Text, nullable=False),
        sa.Column("plan_id", sa.Text, nullable=False),
        sa.Column("id", sa.Uuid(as_uuid=False), nullable=False, comment="the plan's public id, stable"),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("sell_mode", sa.Text, nullable=False, comment="at the last sighting"),
        sa.Column("starts_at", TIMESTAMP, nullable=False),
        sa.Column("ends_at", TIMESTAMP, nullable=False),
        sa.Column("min_price", sa.Numeric(12, 2), comment="of its zones at the last sighting; null without zones"),
        sa.Column("max_price", sa.Numeric(12, 2)),
        sa.Column("ever_online", sa.Boolean, nullable=False, comment="searchable: it was online at some sighting"),
        sa.Column("first_seen", TIMESTAMP, nullable=False),
        sa.Column("last_seen", TIMESTAMP, nullable=False),
        sa.Column("content_id", sa.Text, nullable=False, comment="the message id of the last sighting's content"),
        sa.PrimaryKeyConstraint("base_plan_id", "plan_id", name="pk_plans"),
        sa.UniqueConstraint("id", name="uq_plans_id"),
    )
    op.execute("CREATE INDEX ix_plans_online_period ON plans USING gist (tstzrange(starts_at, ends_at, '[]')) "
               "WHERE ever_online")


def downgrade() -> None:
    op.drop_table("plans")
