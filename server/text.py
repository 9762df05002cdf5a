"""Text normalisation shared by the server: NFC on the way in, folded keys for search."""

from __future__ import annotations

import unicodedata


def nfc(value: str) -> str:
    return unicodedata.normalize("NFC", value)


def fold(value: str) -> str:
    """Lower case, no diacritics, đ -> d: 'Nguyễn Thị Hoà' and 'nguyen thi hòa' fold alike."""
    decomposed = unicodedata.normalize("NFD", value.replace("Đ", "D").replace("đ", "d"))
    stripped = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return " ".join(stripped.casefold().split())


def normalise_username(value: str) -> str:
    return nfc(value).strip().casefold()
