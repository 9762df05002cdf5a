"""attachment_uploads: who has sent a file's bytes (attachments belong to submissions)

Revision ID: 0010_attachment_uploads
Revises: 0009_provenance
Create Date: 2026-11-30 12:00:00

A file is readable through a submission only when the submission's enumerator uploaded it;
declaring its hash is not enough. Files stored before this migration are recorded as uploaded
by ``attachments.uploaded_by`` (the user whose PUT stored them), with no device. Other
enumerators who declared the same hash before (and were told it was there) never uploaded it:
their references do not count, so their supervisors reach the file only through the uploader's
submission, or once the phone uploads it.
"""
from alembic import op
import sqlalchemy as sa

import server.db  # noqa: F401  (custom column types)


revision = '0010_attachment_uploads'
down_revision = '0009_provenance'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('attachment_uploads',
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('device_id', sa.String(length=64), nullable=True),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('created_at', server.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['sha256'], ['attachments.sha256'], name=op.f('fk_attachment_uploads_sha256_attachments')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_attachment_uploads_user_id_users')),
    sa.PrimaryKeyConstraint('sha256', 'user_id', name=op.f('pk_attachment_uploads'))
    )
    with op.batch_alter_table('attachment_uploads', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_attachment_uploads_user_id'), ['user_id'], unique=False)
    op.execute(
        "INSERT INTO attachment_uploads (sha256, user_id, device_id, size, created_at) "
        "SELECT a.sha256, a.uploaded_by, NULL, a.size, a.created_at FROM attachments a "
        "JOIN users u ON u.id = a.uploaded_by")


def downgrade():
    with op.batch_alter_table('attachment_uploads', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attachment_uploads_user_id'))
    op.drop_table('attachment_uploads')
