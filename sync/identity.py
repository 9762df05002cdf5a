"""What makes two submissions "the same content": a canonical JSON form and its sha256.

The phone may resend a submission after a lost response, re-serialised by another JSON
library, with keys in another order, text in another Unicode normal form or ``3`` written as
``3.0``. None of that is a change, so none of it may change the hash; any change to what was
*answered* must. The hash covers::

    form_id, form_version, area, household_id, household_rev, answers,
    attachments -> sorted [name, sha256] pairs

and deliberately not ``id`` (the hash is stored under it), ``rev`` (a revision number is not
content), ``started_at``/``finished_at`` (a retry may re-stamp them), ``device_id`` or an
attachment's ``size`` (implied by its sha256).

Canonical form and spelling: ``canonjson`` (the one canonical-JSON module behind every hash):
NFC text, integral floats as ints, keys sorted by code point, compact UTF-8; Python values
(``UUID``, dates, ``Decimal``, tuples) as the JSON they stand for. A missing ``answers`` or
``attachments`` counts as empty.

These bytes are stored (``content_hash``) and compared with those of every retry, so they must
never change. ``tests/unit/sync/test_identity.py`` holds a frozen copy of the original
implementation and compares the two over random data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from canonjson import canonical, canonical_json, dumps, sha256_hex

__all__ = ["HASHED_FIELDS", "canonical", "canonical_json", "content_hash"]

#: The submission fields the content hash covers (plus the attachments' names and hashes).
HASHED_FIELDS = ("form_id", "form_version", "area", "household_id", "household_rev", "answers")


def _attachment_pairs(attachments: Any) -> list[list[Any]]:
    pairs = []
    for att in attachments or ():
        sha = att.get("sha256")
        pairs.append(canonical([att.get("name"), sha.lower() if isinstance(sha, str) else sha]))
    # Ordered by their canonical bytes. The original key was json.dumps with its default ", "
    # and ": " separators: a space only ever follows a separator that both texts share, so the
    # order is the same (tests/unit/canonjson pins that).
    return sorted(pairs, key=dumps)


def content_hash(item: Mapping) -> str:
    """sha256 hex of the canonical JSON of what defines a submission's content.

    Covers form_id, form_version, area, household_id, household_rev, answers and the
    attachments' sorted ``[name, sha256]`` pairs; excludes id, rev, timestamps, device_id and
    attachment sizes. Key order, NFC vs NFD and ``1`` vs ``1.0`` do not change it.
    """
    attachments = _attachment_pairs(item.get("attachments"))
    # The fields beside the answers are small: canonical form first (a UUID to its text, ...),
    # so that only the answers decide whether the fast encoder applies (canonical is idempotent).
    doc = {key: canonical(item.get(key)) for key in HASHED_FIELDS[:-1]}
    answers = item.get("answers")
    doc["answers"] = {} if answers is None else answers
    doc["attachments"] = attachments
    return sha256_hex(canonical_json(doc))
