"""household_assignments: which enumerator visits a household; feed rows of kind assignment

Revision ID: 0011_household_assignments
Revises: 0010_attachment_uploads
Create Date: 2026-11-30 15:00:00

Nothing is assigned yet, so every area behaves as before (its enumerators pull all its
households). Assignment rows of the change feed get their own partial index: pull asks whether
a household has a later one.
"""
from alembic import op
import sqlalchemy as sa

import server.db  # noqa: F401  (custom column types)


revision = '0011_household_assignments'
down_revision = '0010_attachment_uploads'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('household_assignments',
    sa.Column('household_id', sa.Uuid(), nullable=False),
    sa.Column('enumerator_id', sa.Uuid(), nullable=False),
    sa.Column('area_code', sa.String(length=64), nullable=False),
    sa.Column('assigned_by', sa.Uuid(), nullable=True),
    sa.Column('assigned_at', server.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['area_code'], ['areas.code'], name=op.f('fk_household_assignments_area_code_areas')),
    sa.ForeignKeyConstraint(['assigned_by'], ['users.id'], name=op.f('fk_household_assignments_assigned_by_users')),
    sa.ForeignKeyConstraint(['enumerator_id'], ['users.id'], name=op.f('fk_household_assignments_enumerator_id_users')),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_household_assignments_household_id_households')),
    sa.PrimaryKeyConstraint('household_id', name=op.f('pk_household_assignments'))
    )
    with op.batch_alter_table('household_assignments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_household_assignments_area_code'), ['area_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_household_assignments_enumerator_id'), ['enumerator_id'], unique=False)
    op.create_index('ix_changes_assignment', 'changes', ['entity_id', 'xid', 'seq'], unique=False,
                    postgresql_where=sa.text("kind = 'assignment'"), sqlite_where=sa.text("kind = 'assignment'"))


def downgrade():
    op.drop_index('ix_changes_assignment', table_name='changes')
    with op.batch_alter_table('household_assignments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_household_assignments_enumerator_id'))
        batch_op.drop_index(batch_op.f('ix_household_assignments_area_code'))
    op.drop_table('household_assignments')
