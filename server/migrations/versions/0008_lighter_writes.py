"""lighter writes per pushed submission: history as JSON text, fewer indexes

Revision ID: 0008_lighter_writes
Revises: 0007_device_release
Create Date: 2026-11-29 23:40:00

Every pushed submission writes five or six rows; PostgreSQL's share of the work was mostly
converting the answers to JSONB four times and maintaining 21 indexes. Revisions are history,
written once and read back whole, so they keep JSON text. The single-column indexes on
low-cardinality or unused columns go: pull reads the change feed (not ``updated_at`` or
``reviewed_at``), and a commune's queue is found by ``area_code`` and filtered from there.
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

import server.db  # noqa: F401  (custom column types)


revision = '0008_lighter_writes'
down_revision = '0007_device_release'
branch_labels = None
depends_on = None

DROPPED = (
    ("households", "updated_at"),
    ("submissions", "form_id"),
    ("submissions", "year"),
    ("submissions", "classification"),
    ("submissions", "review_state"),
    ("submissions", "reviewed_at"),
    ("submissions", "updated_at"),
)
HISTORY = (("household_revisions", "answers"), ("submission_revisions", "answers"),
           ("submission_revisions", "computed"))


def upgrade():
    for table, column in DROPPED:
        op.drop_index(f"ix_{table}_{column}", table_name=table)
    if op.get_bind().dialect.name == "postgresql":
        for table, column in HISTORY:
            op.alter_column(table, column, type_=sa.JSON(), existing_type=postgresql.JSONB(),
                            postgresql_using=f"{column}::json", existing_nullable=False)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for table, column in HISTORY:
            op.alter_column(table, column, type_=postgresql.JSONB(), existing_type=sa.JSON(),
                            postgresql_using=f"{column}::jsonb", existing_nullable=False)
    for table, column in DROPPED:
        op.create_index(f"ix_{table}_{column}", table, [column], unique=False)
