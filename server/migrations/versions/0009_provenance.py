"""every submission revision records what its computed values came from

Revision ID: 0009_provenance
Revises: 0008_lighter_writes
Create Date: 2026-11-29 23:55:00

``submission_revisions.provenance``: form version and sha256, the province's parameter-set
revision, the visit date and the review year (``sync.core.provenance``). Revisions stored
before this migration have none (NULL): they were computed with the form's parameters and the
visit date's year, but which override revision applied can no longer be told.
"""
from alembic import op
import sqlalchemy as sa

import server.db  # noqa: F401  (custom column types)


revision = '0009_provenance'
down_revision = '0008_lighter_writes'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('submission_revisions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('provenance', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('submission_revisions', schema=None) as batch_op:
        batch_op.drop_column('provenance')
