"""quality flags: submissions.flags, and what the village comparisons read on household_years

Revision ID: 0016_quality_flags
Revises: 0015_queue_index
Create Date: 2026-11-30 01:00:00

``submissions.flags`` (JSON list of codes, sync.quality.FLAGS); on PostgreSQL a partial GIN index
(jsonb_path_ops) of the flagged rows serves the queue's ``flag`` filter (a partial b-tree of them
on SQLite). The counted visit of each household and year (``household_years``) gets what the
village's other submissions are compared with: a usable location (``gps_lat``, ``gps_lon``), the
folded head name with birth year (``head_key``) and a digest of the head's ID number
(``head_id_key``, indexed: duplicates are looked up across areas). A push then reads its village
from that one table.

Existing rows start with no flags and no facts: ``rasoat flags refresh`` computes them
(docs/quality.md).
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

import server.db  # noqa: F401  (custom column types)


revision = '0016_quality_flags'
down_revision = '0015_queue_index'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('flags', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'),
                                      server_default=sa.text("'[]'"), nullable=False))
    op.create_index('ix_submissions_flags', 'submissions', ['flags'], unique=False, postgresql_using='gin',
                    postgresql_ops={'flags': 'jsonb_path_ops'}, postgresql_where=sa.text("flags <> '[]'::jsonb"),
                    sqlite_where=sa.text("flags <> '[]'"))
    with op.batch_alter_table('household_years', schema=None) as batch_op:
        batch_op.add_column(sa.Column('gps_lat', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('gps_lon', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('head_key', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('head_id_key', sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f('ix_household_years_head_id_key'), ['head_id_key'], unique=False)


def downgrade():
    with op.batch_alter_table('household_years', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_household_years_head_id_key'))
        batch_op.drop_column('head_id_key')
        batch_op.drop_column('head_key')
        batch_op.drop_column('gps_lon')
        batch_op.drop_column('gps_lat')
    op.drop_index('ix_submissions_flags', table_name='submissions')
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.drop_column('flags')
