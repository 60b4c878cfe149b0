"""Priced calls: duration_seconds as BIGINT.

A call record may be dated from 1970, so a call may last longer than 2**31 - 1 seconds (68
years): one that began in 1970 and ends after 2038-01-19 overflowed the INTEGER column and
failed its billing batch.

Revision ID: 0005_call_duration_bigint
Revises: 0004_plans
"""
import sqlalchemy as sa
from alembic import op

revision = "0005_call_duration_bigint"
down_revision = "0004_plans"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.alter_column("priced_calls", "duration_seconds", type_=sa.BigInteger, existing_type=sa.Integer,
                    existing_nullable=False)


def downgrade() -> None:
    op.alter_column("priced_calls", "duration_seconds", type_=sa.Integer, existing_type=sa.BigInteger,
                    existing_nullable=False)
