"""comments on submissions

Revision ID: 0012_submission_comments
Revises: 0011_household_assignments
Create Date: 2026-11-30 00:00:00
"""
from alembic import op
import sqlalchemy as sa

import server.db  # noqa: F401  (custom column types)


revision = '0012_submission_comments'
down_revision = '0011_household_assignments'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'submission_comments',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('submission_id', sa.Uuid(), nullable=False),
        sa.Column('rev', sa.Integer(), nullable=False),
        sa.Column('author_id', sa.Uuid(), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('created_at', server.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['submission_id'], ['submissions.id'],
                                name=op.f('fk_submission_comments_submission_id_submissions')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_submission_comments')),
    )
    op.create_index(op.f('ix_submission_comments_submission_id'), 'submission_comments', ['submission_id'],
                    unique=False)


def downgrade():
    op.drop_index(op.f('ix_submission_comments_submission_id'), table_name='submission_comments')
    op.drop_table('submission_comments')
