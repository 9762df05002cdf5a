"""the queue's default order: submissions by received time

Revision ID: 0015_queue_index
Revises: 0014_refresh_grace
Create Date: 2026-11-30 00:10:00

The queue lists newest first; over a province (every commune's submissions) PostgreSQL can then
walk this index backwards and stop at the page's end instead of sorting the whole province
(``bench/queue_bench.py``).
"""
from alembic import op

import server.db  # noqa: F401  (custom column types)


revision = '0015_queue_index'
down_revision = '0014_refresh_grace'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_submissions_received_at_id', 'submissions', ['received_at', 'id'], unique=False)


def downgrade():
    op.drop_index('ix_submissions_received_at_id', table_name='submissions')
