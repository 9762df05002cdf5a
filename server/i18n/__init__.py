"""The faces' words: one message catalogue per language (``vi.json``, ``en.json``), Vietnamese
first. Templates never hold text of their own; they ask ``t("key")``."""

from __future__ import annotations

import functools
import json
from pathlib import Path

from flask import request

LANGUAGES = ("vi", "en")
DEFAULT = "vi"
COOKIE = "rasoat_lang"
HERE = Path(__file__).resolve().parent


@functools.cache
def catalogue(language: str) -> dict[str, str]:
    return json.loads((HERE / f"{language}.json").read_text(encoding="utf-8"))


def language() -> str:
    """The language asked for (``?lang=``), else the one remembered in the cookie, else Vietnamese."""
    asked = request.args.get("lang") or request.cookies.get(COOKIE)
    return asked if asked in LANGUAGES else DEFAULT


def translate(key: str, lang: str, **values) -> str:
    text = catalogue(lang).get(key) or catalogue(DEFAULT)[key]
    return text.format(**values) if values else text
