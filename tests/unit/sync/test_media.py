"""The attachment sniffer: the type comes from the bytes, and only the allowed types exist."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from sync.limits import ATTACHMENT_TYPES
from sync.media import EXTENSIONS, IMAGE_TYPES, SNIFF_BYTES, sniff

SIGNATURES = {
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01": "image/jpeg",
    b"\xff\xd8\xff\xe1\x00\x18Exif\x00\x00": "image/jpeg",
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR": "image/png",
    b"RIFF\x24\x00\x00\x00WEBPVP8 ": "image/webp",
    b"%PDF-1.4\n%\xe2\xe3\xcf\xd3": "application/pdf",
}


@pytest.mark.parametrize("head, kind", SIGNATURES.items())
def test_each_allowed_type_is_recognised(head, kind):
    assert sniff(head) == kind
    assert sniff(head[:SNIFF_BYTES] + b"anything after") == kind


@pytest.mark.parametrize("head", [
    b"", b"\xff\xd8", b"\x89PNG\r\n\x1a", b"RIFF\x24\x00\x00\x00WAVE", b"RIFF\x24\x00\x00\x00", b"%PDF",
    b"<html><script>", b"<!DOCTYPE html>", b"<svg xmlns=", b"<?xml version", b"GIF89a", b"BM\x00\x00",
    b"PK\x03\x04", b"\x00\x00\x00\x18ftypheic", b" %PDF-1.4", b"\xef\xbb\xbf<html>", b"MZ\x90\x00",
])
def test_anything_else_is_nothing(head):
    assert sniff(head) is None


@given(st.binary(max_size=64))
def test_the_answer_is_an_allowed_type_or_none_and_depends_on_the_head_only(data):
    kind = sniff(data)
    assert kind is None or kind in ATTACHMENT_TYPES
    assert sniff(data[:SNIFF_BYTES]) == kind


def test_every_allowed_type_has_a_signature_an_extension_and_images_are_images():
    assert set(SIGNATURES.values()) == set(ATTACHMENT_TYPES) == set(EXTENSIONS)
    assert IMAGE_TYPES == {t for t in ATTACHMENT_TYPES if t.startswith("image/")}
