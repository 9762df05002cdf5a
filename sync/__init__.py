"""The sync protocol's pure rules: identity (content hashes), decisions (what a pushed
revision is), the household merge, the published limits, cursors, and a reference model of
the server state (``sync.state``). Plain data in, plain data out: no Flask, SQL or I/O."""

from sync.decisions import Decision, Outcome, StoredSubmission, decide
from sync.identity import canonical, canonical_json, content_hash
from sync.merge import FieldConflict, MergeResult, answers_equal, diff_paths, merge_household

__all__ = [
    "Decision", "FieldConflict", "MergeResult", "Outcome", "StoredSubmission", "answers_equal",
    "canonical", "canonical_json", "content_hash", "decide", "diff_paths", "merge_household",
]
