"""What the reports read by (``server/services/reports.py``): no tables, one index.

A report counts, for every household, its latest approved submission of the year within an area.
On PostgreSQL this index answers that from the index alone (an index-only scan: year, then the
area's code prefix, with what the rule compares carried along), and the same index serves the
"is there a later approved visit of this household" side of the rule. ``varchar_pattern_ops``
lets ``area_code LIKE '01-%'`` range the scan whatever the database's collation. The cost: one
more index entry per submission written, and review updates are never HOT (review_state is in
it).
"""

from __future__ import annotations

import sqlalchemy as sa

from server.models.sync import Submission

COUNTING_INCLUDE = ["household_id", "review_state", "classification", "form_id", "finished_at", "received_at", "id"]

counting_index = sa.Index(
    "ix_submissions_counting", Submission.year, Submission.area_code,
    postgresql_ops={"area_code": "varchar_pattern_ops"}, postgresql_include=COUNTING_INCLUDE)
