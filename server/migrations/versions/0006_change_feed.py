"""change feed for pull; the year row's visit time

Revision ID: 0006_change_feed
Revises: 0005_output_columns
Create Date: 2026-11-29 23:10:00

The feed's ``xid`` is the writing transaction's id on PostgreSQL, so that pull can read in
commit order below the oldest running transaction; SQLite serialises writers, so ``seq`` alone
is commit order there and ``xid`` is 0.
"""
from alembic import op
import sqlalchemy as sa

import server.db  # noqa: F401  (custom column types)


revision = '0006_change_feed'
down_revision = '0005_output_columns'
branch_labels = None
depends_on = None


# What changed before the feed existed: one row for each household's current state and each
# standing review outcome, so a phone pulling from the start (every cursor of the previous release
# is refused) still receives them. Review rows carry the decision time (pull matches it against
# submissions.reviewed_at).
BACKFILL = (
    "INSERT INTO changes (kind, entity_id, rev, area_code, user_id, created_at)"
    " SELECT 'household', id, rev, area_code, NULL, updated_at FROM households ORDER BY updated_at, id",
    "INSERT INTO changes (kind, entity_id, rev, area_code, user_id, created_at)"
    " SELECT 'review', id, rev, area_code, enumerator_id, reviewed_at FROM submissions"
    " WHERE reviewed_at IS NOT NULL ORDER BY reviewed_at, id",
)


def upgrade():
    postgres = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        'changes',
        sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
        sa.Column('xid', sa.BigInteger(), nullable=False,
                  server_default=sa.text("(pg_current_xact_id()::text::bigint)" if postgres else "0")),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('entity_id', sa.Uuid(), nullable=False),
        sa.Column('rev', sa.Integer(), nullable=False),
        sa.Column('area_code', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.Uuid(), nullable=True),
        sa.Column('created_at', server.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('seq', name=op.f('pk_changes')),
    )
    op.create_index('ix_changes_xid_seq', 'changes', ['xid', 'seq'], unique=False)
    for statement in BACKFILL:
        op.execute(statement)
    with op.batch_alter_table('household_years', schema=None) as batch_op:
        batch_op.add_column(sa.Column('visit_at', server.db.UTCDateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('household_years', schema=None) as batch_op:
        batch_op.drop_column('visit_at')
    op.drop_index('ix_changes_xid_seq', table_name='changes')
    op.drop_table('changes')
