"""refresh_tokens: successor_sealed (the refresh grace window)

Revision ID: 0014_refresh_grace
Revises: 0013_season
Create Date: 2026-11-30 12:00:00

A refresh token presented again within the grace window gets the pair its use issued; that pair
is kept sealed under the used token (server.security.tokens.seal_successor), never in clear.
"""
from alembic import op
import sqlalchemy as sa


revision = '0014_refresh_grace'
down_revision = '0013_season'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('refresh_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('successor_sealed', sa.LargeBinary(), nullable=True))


def downgrade():
    with op.batch_alter_table('refresh_tokens', schema=None) as batch_op:
        batch_op.drop_column('successor_sealed')
