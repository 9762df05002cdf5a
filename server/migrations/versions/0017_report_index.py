"""the reports' index: submissions by review year and area, covering the counting rule

Revision ID: 0017_report_index
Revises: 0016_quality_flags
Create Date: 2026-11-30 02:00:00

A report counts each household's latest approved submission of a year within an area
(``server/services/reports.py``). Over a province this read the whole submissions table (the
answers make it about 2.5 kB a row) twice; with this index PostgreSQL reads the year's entries of
the area (``LIKE '01-%'`` through varchar_pattern_ops, whatever the collation) with what the rule
compares, from the index alone (``bench/reports_bench.py``). On SQLite a plain index on the two
columns.
"""
from alembic import op

import server.db  # noqa: F401  (custom column types)


revision = '0017_report_index'
down_revision = '0016_quality_flags'
branch_labels = None
depends_on = None

INCLUDE = ["household_id", "review_state", "classification", "form_id", "finished_at", "received_at", "id"]


def upgrade():
    op.create_index('ix_submissions_counting', 'submissions', ['year', 'area_code'], unique=False,
                    postgresql_ops={'area_code': 'varchar_pattern_ops'}, postgresql_include=INCLUDE)


def downgrade():
    op.drop_index('ix_submissions_counting', table_name='submissions')
