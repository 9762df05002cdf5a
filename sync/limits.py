"""The sync protocol's published limits.

The server enforces them and publishes them in its OpenAPI document so that a phone can split
its queue before pushing; exceeding one is answered with 413 (a push or an attachment too
large) or 415 (an attachment type not listed), never by dropping data.

* ``MAX_ITEMS_PER_PUSH``: submissions in one ``POST /api/v1/sync/push``.
* ``MAX_PUSH_BYTES``: bytes of one push body *after* decompression (a gzip body is measured
  as it inflates, so a small compressed bomb is refused too).
* ``MAX_ATTACHMENT_BYTES``: bytes of one ``PUT /api/v1/attachments/{sha256}`` body.
* ``ATTACHMENT_TYPES``: the content types an attachment may have (photos and scanned papers).
"""

from __future__ import annotations

from types import MappingProxyType

__all__ = ["ATTACHMENT_TYPES", "MAX_ATTACHMENT_BYTES", "MAX_ITEMS_PER_PUSH", "MAX_PUSH_BYTES", "PUBLISHED"]

MiB = 1024 * 1024

MAX_ITEMS_PER_PUSH = 100
MAX_PUSH_BYTES = 8 * MiB
MAX_ATTACHMENT_BYTES = 10 * MiB
ATTACHMENT_TYPES: tuple[str, ...] = ("image/jpeg", "image/png", "image/webp", "application/pdf")

#: The limits as published (e.g. under an OpenAPI extension), by name.
PUBLISHED = MappingProxyType({
    "max_items_per_push": MAX_ITEMS_PER_PUSH,
    "max_push_bytes": MAX_PUSH_BYTES,
    "max_attachment_bytes": MAX_ATTACHMENT_BYTES,
    "attachment_types": ATTACHMENT_TYPES,
})
