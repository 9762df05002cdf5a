"""the review season: village meetings, complaints, commune decisions

Revision ID: 0013_season
Revises: 0012_submission_comments
Create Date: 2026-11-30 00:10:00
"""
from alembic import op
import sqlalchemy as sa

import server.db  # noqa: F401  (custom column types)


revision = '0013_season'
down_revision = '0012_submission_comments'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'village_meetings',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('household_id', sa.Uuid(), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('submission_id', sa.Uuid(), nullable=False),
        sa.Column('area_code', sa.String(length=64), nullable=False),
        sa.Column('held_on', sa.Date(), nullable=False),
        sa.Column('present', sa.Integer(), nullable=False),
        sa.Column('agreeing', sa.Integer(), nullable=False),
        sa.Column('agreed', sa.Boolean(), nullable=False),
        sa.Column('recorded_by', sa.Uuid(), nullable=False),
        sa.Column('created_at', server.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['household_id'], ['households.id'],
                                name=op.f('fk_village_meetings_household_id_households')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_village_meetings')),
    )
    op.create_index(op.f('ix_village_meetings_household_id'), 'village_meetings', ['household_id'], unique=False)
    op.create_index(op.f('ix_village_meetings_area_code'), 'village_meetings', ['area_code'], unique=False)
    op.create_table(
        'complaints',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('household_id', sa.Uuid(), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('area_code', sa.String(length=64), nullable=False),
        sa.Column('received_on', sa.Date(), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('outcome', sa.String(length=16), nullable=True),
        sa.Column('resolution', sa.Text(), nullable=True),
        sa.Column('created_by', sa.Uuid(), nullable=False),
        sa.Column('created_at', server.db.UTCDateTime(), nullable=False),
        sa.Column('resolved_by', sa.Uuid(), nullable=True),
        sa.Column('resolved_at', server.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['household_id'], ['households.id'],
                                name=op.f('fk_complaints_household_id_households')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_complaints')),
    )
    op.create_index(op.f('ix_complaints_household_id'), 'complaints', ['household_id'], unique=False)
    op.create_index(op.f('ix_complaints_area_code'), 'complaints', ['area_code'], unique=False)
    op.create_table(
        'commune_decisions',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('commune_code', sa.String(length=64), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('number', sa.String(length=64), nullable=False),
        sa.Column('decided_on', sa.Date(), nullable=False),
        sa.Column('recorded_by', sa.Uuid(), nullable=False),
        sa.Column('created_at', server.db.UTCDateTime(), nullable=False),
        sa.Column('reopened_at', server.db.UTCDateTime(), nullable=True),
        sa.Column('reopened_by', sa.Uuid(), nullable=True),
        sa.Column('reopen_reason', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['commune_code'], ['areas.code'],
                                name=op.f('fk_commune_decisions_commune_code_areas')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_commune_decisions')),
    )
    op.create_index(op.f('ix_commune_decisions_commune_code'), 'commune_decisions', ['commune_code'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_commune_decisions_commune_code'), table_name='commune_decisions')
    op.drop_table('commune_decisions')
    op.drop_index(op.f('ix_complaints_area_code'), table_name='complaints')
    op.drop_index(op.f('ix_complaints_household_id'), table_name='complaints')
    op.drop_table('complaints')
    op.drop_index(op.f('ix_village_meetings_area_code'), table_name='village_meetings')
    op.drop_index(op.f('ix_village_meetings_household_id'), table_name='village_meetings')
    op.drop_table('village_meetings')
