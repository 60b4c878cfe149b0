"""Plans: each keeps its entry of the search document (`search_entry`), written with the sighting.

A search then joins the stored entries instead of building every one from its columns, which
cost PostgreSQL more than finding the plans. Existing plans are given theirs here (one UPDATE
of the whole table); the expression is the one storage/plans.py writes with, as it was at this
revision.

Revision ID: 0006_plan_search_entry
Revises: 0005_call_duration_bigint
"""
import sqlalchemy as sa
from alembic import op

revision = "0006_plan_search_entry"
down_revision = "0005_call_duration_bigint"
branch_labels = None
depends_on = None

ENTRY = (
    "json_build_object('id', id, 'title', title, 'start_date', to_char(starts_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), "
    "'start_time', to_char(starts_at AT TIME ZONE 'UTC', 'HH24:MI:SS'), "
    "'end_date', to_char(ends_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), "
    "'end_time', to_char(ends_at AT TIME ZONE 'UTC', 'HH24:MI:SS'), "
    "'min_price', min_price, 'max_price', max_price)::text"
)


def upgrade() -> None:
    op.add_column("plans", sa.Column("search_entry", sa.Text(), nullable=True,
                                     comment="its entry in the search document, as JSON: written with the "
                                             "sighting (storage/plans.py)"))
    op.execute(f"UPDATE plans SET search_entry = {ENTRY}")
    op.alter_column("plans", "search_entry", nullable=False, existing_type=sa.Text())


def downgrade() -> None:
    op.drop_column("plans", "search_entry")
