"""devices: released_at, released_by (a device id belongs to its first user until released)

Revision ID: 0007_device_release
Revises: 0006_change_feed
Create Date: 2026-11-30 10:00:00

"""
from alembic import op
import sqlalchemy as sa

import server.db  # noqa: F401  (custom column types)


revision = '0007_device_release'
down_revision = '0006_change_feed'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('released_at', server.db.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('released_by', sa.Uuid(), nullable=True))


def downgrade():
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.drop_column('released_by')
        batch_op.drop_column('released_at')
