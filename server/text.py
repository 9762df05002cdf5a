"""Text normalisation shared by the server: NFC on the way in, folded keys for search."""

from __future__ import annotations

import re
import unicodedata


def nfc(value: str) -> str:
    return unicodedata.normalize("NFC", value)


def fold(value: str) -> str:
    """Lower case, no diacritics, đ -> d: 'Nguyễn Thị Hoà' and 'nguyen thi hòa' fold alike."""
    decomposed = unicodedata.normalize("NFD", value.replace("Đ", "D").replace("đ", "d"))
    stripped = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return " ".join(stripped.casefold().split())


# New usernames: ASCII letters (stored in lower case) and digits, with '.', '_' or '-' inside;
# 3-64 characters. No look-alikes from other scripts (Cyrillic 'а'), no zero-width or bidi
# controls, no accents ('hoà' and 'hòa' are one name to a reader): what any keyboard types.
USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{1,62}[A-Za-z0-9]$"
USERNAME_RULE = ("3-64 characters: letters a-z, digits, '.', '_' or '-', starting and ending with a "
                 "letter or digit")
_USERNAME = re.compile(USERNAME_PATTERN.removeprefix("^").removesuffix("$"))


def normalise_username(value: str) -> str:
    """How a username is looked up at login: NFC, trimmed, case-folded. Logins use only this,
    so an account created before the rule below still logs in."""
    return nfc(value).strip().casefold()


def new_username(value: str) -> str:
    """The username to store for a new account, or ValueError saying what is wrong.

    Upper-case ASCII is accepted and lowered (``Rasoat.Vien`` is ``rasoat.vien``); anything
    outside ASCII after NFC is refused before case folding, so that the long s 'ſ' (U+017F),
    which folds to 's', cannot pass as one."""
    trimmed = nfc(value).strip()
    if trimmed.isascii() and _USERNAME.fullmatch(trimmed):
        return trimmed.lower()
    suggestion = fold(trimmed).replace(" ", ".")  # 'Hoà NT' -> 'hoa.nt'; fold() is lower case
    hint = f" (e.g. {suggestion!r})" if suggestion.isascii() and _USERNAME.fullmatch(suggestion) else ""
    raise ValueError(f"{USERNAME_RULE}{hint}.")
