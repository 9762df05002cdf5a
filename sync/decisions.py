"""What the server does with one pushed submission, given what it already stored under its id.

Submission ids are UUIDs chosen by the phone and ``rev`` counts the phone's revisions of that
submission from 1, so a retried push can be recognised and answered without doing anything.
``decide`` looks only at revision numbers and content hashes (``sync.identity.content_hash``);
validating the answers and merging the household are the caller's next steps for ACCEPTED and
EDIT, and nothing is stored for any other outcome.

The rules, checked top to bottom; the first row that matches decides:

==  ==========================================  ==========  =======================  =================================
#   situation                                   outcome     code                     what the server does
==  ==========================================  ==========  =======================  =================================
1   ``rev`` is not an int >= 1                  REJECTED    ``invalid_revision``     nothing
2   nothing stored under this id                ACCEPTED    --                       store revision ``rev`` (may be
                                                                                     > 1: edited offline before the
                                                                                     first sync), create/merge the
                                                                                     household
3   stored, ``household_id`` differs            REJECTED    ``household_mismatch``   nothing; a submission never
                                                                                     moves to another household
4   stored, ``form_id`` differs                 REJECTED    ``form_mismatch``        nothing; nor to another form
                                                                                     (``form_version`` may change)
5   ``rev`` stored, same content hash           DUPLICATE   --                       nothing: an idempotent retry,
                                                                                     also of an old revision
6   ``rev`` stored, different content hash      CONFLICT    ``rev_content_mismatch`` nothing; the phone must send
                                                                                     its change as a higher rev
7   ``rev`` > ``current_rev``                   EDIT        --                       store the new revision, keep the
                                                                                     old ones, merge the household
8   ``rev`` < ``current_rev``, not stored       REJECTED    ``stale_revision``       nothing; a newer revision is
                                                                                     already there
==  ==========================================  ==========  =======================  =================================

Rows 3 and 4 come before 5 and 6 so that a submission's household and form are fixed by its
first accepted revision whatever is sent later. (An identical retry can never hit them: the
content hash covers household_id and form_id.) Every REJECTED and CONFLICT carries a stable
``code`` and a human ``detail``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Decision", "Outcome", "StoredSubmission", "decide"]


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    EDIT = "edit"
    CONFLICT = "conflict"
    REJECTED = "rejected"


@dataclass(frozen=True)
class StoredSubmission:
    """What the server holds for one submission id."""

    current_rev: int
    revisions: Mapping[int, str]  # rev -> content hash, every revision kept
    household_id: str
    form_id: str


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    code: str | None = None
    detail: str | None = None


def decide(stored: StoredSubmission | None, *, rev: int, content_hash: str, household_id: str,
           form_id: str) -> Decision:
    """Decide one pushed submission revision; see the table in the module docstring."""
    if isinstance(rev, bool) or not isinstance(rev, int) or rev < 1:
        return Decision(Outcome.REJECTED, "invalid_revision", f"rev must be an integer >= 1, not {rev!r}.")
    if stored is None:
        return Decision(Outcome.ACCEPTED)
    if household_id != stored.household_id:
        return Decision(Outcome.REJECTED, "household_mismatch",
                        f"This submission belongs to household {stored.household_id}, not {household_id}.")
    if form_id != stored.form_id:
        return Decision(Outcome.REJECTED, "form_mismatch",
                        f"This submission is of form {stored.form_id!r}, not {form_id!r}.")
    known = stored.revisions.get(rev)
    if known is not None:
        if known == content_hash:
            return Decision(Outcome.DUPLICATE)
        return Decision(Outcome.CONFLICT, "rev_content_mismatch",
                        f"Revision {rev} was already received with different content; "
                        f"send changes as revision {stored.current_rev + 1} or later.")
    if rev > stored.current_rev:
        return Decision(Outcome.EDIT)
    return Decision(Outcome.REJECTED, "stale_revision",
                    f"Revision {rev} is older than the stored revision {stored.current_rev}.")
