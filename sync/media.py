"""What an attachment is, told from its first bytes, never from what the uploader declares.

Only the types in ``sync.limits.ATTACHMENT_TYPES`` are recognised (photos and scanned papers);
anything else (HTML, SVG, scripts, archives, text) is ``None`` and is refused. The signatures
are the ones the WHATWG MIME Sniffing standard uses for these types.
"""

from __future__ import annotations

__all__ = ["EXTENSIONS", "IMAGE_TYPES", "SNIFF_BYTES", "sniff"]

#: How many leading bytes ``sniff`` needs.
SNIFF_BYTES = 12

#: The recognised types a browser may show inline; the others are served as downloads.
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})

#: A file name's extension for each recognised type.
EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "application/pdf": ".pdf"}


def sniff(head: bytes) -> str | None:
    """The attachment type of bytes starting with ``head`` (at least ``SNIFF_BYTES`` of them,
    or the whole file when it is shorter), or None when they are none of the allowed types."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    return None
