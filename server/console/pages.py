"""What the season, report, dashboard and admin pages share: the review year, the areas a
user may choose from, the services' refusals turned into words for the page, a notice after
a redirect, and file downloads.

The pages call the services exactly as the API does; a service's ``Problem`` is shown on the
page (its field errors beside the fields) instead of a problem+json. Messages come from the
catalogue by the problem's or the field error's code, and fall back to the service's own
(English) sentence for a code the catalogue does not know.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator
from typing import Any

from flask import Response, request, url_for

from server.console import auth
from server.errors import Problem
from server.models import Area
from server.scoping import Scope
from server.services import areas as area_service
from sync.core import VIETNAM

YEAR_MIN, YEAR_MAX = 2020, 2100
# A select of more areas than this is no help; the page asks for a code instead.
MAX_AREA_OPTIONS = 400


def this_year() -> int:
    """The review year running now (the season runs 1/9 - 14/12 of the calendar year), in Vietnam."""
    return dt.datetime.now(VIETNAM).year


def year_arg(name: str = "year") -> int:
    """``?year=`` if it is a plausible review year, else this year."""
    try:
        year = int(request.values.get(name, ""))
    except ValueError:
        return this_year()
    return year if YEAR_MIN <= year <= YEAR_MAX else this_year()


def today() -> dt.date:
    return dt.datetime.now(VIETNAM).date()


def text_arg(name: str, limit: int = 64) -> str | None:
    value = (request.values.get(name) or "").strip()[:limit]
    return value or None


def date_value(name: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat((request.form.get(name) or "").strip())
    except ValueError:
        return None


def int_value(name: str, low: int = 0, high: int = 1_000_000) -> int | None:
    try:
        value = int((request.form.get(name) or "").strip())
    except ValueError:
        return None
    return value if low <= value <= high else None


def area_options(scope: Scope, levels: Iterable[str]) -> list[Area] | None:
    """The areas of ``levels`` within the user's scope, by code; None when there are too many to
    list (a national admin's communes): the page then takes a code."""
    return area_service.area_options(scope, tuple(levels), MAX_AREA_OPTIONS)


# --- a service's refusal, in words ----------------------------------------------------------

_INDEX = re.compile(r"/(\d+)(?=/|$)")


def problem_messages(problem: Problem) -> tuple[str, dict[str, str]]:
    """(the problem in words, {field path: message}) for a page."""
    general = _translated(f"console.pages.problem.{problem.code}") or problem.detail
    fields: dict[str, str] = {}
    for error in problem.errors or ():
        path = str(error.get("path", ""))
        code = str(error.get("code", ""))
        text = _translated(f"console.pages.error.{code}") or str(error.get("message", ""))
        fields.setdefault(path, text)
    return general, fields


def _translated(key: str) -> str | None:
    from server import i18n

    lang = auth.language()
    text = i18n.catalogue(lang).get(key) or i18n.catalogue(i18n.DEFAULT).get(key)
    return text


# --- a notice after a redirect (POST -> 303 -> GET) -------------------------------------------

def redirect_done(endpoint: str, done: str, **values: Any) -> Response:
    """303 to ``endpoint`` with ``done=<key>``: the page shows ``console.pages.done.<key>``."""
    from flask import redirect

    return redirect(url_for(endpoint, done=done, **{k: v for k, v in values.items() if v is not None}), code=303)


def done_notice() -> str | None:
    done = request.args.get("done", "")
    if not re.fullmatch(r"[a-z_]{1,40}", done):
        return None
    return _translated(f"console.pages.done.{done}")


# --- files ------------------------------------------------------------------------------------

def download(body: bytes | Iterator[bytes], mimetype: str, filename: str) -> Response:
    """A file the browser saves: the same headers as the API's downloads (private, never stored)."""
    response = Response(body, mimetype=mimetype, direct_passthrough=not isinstance(body, bytes))
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response
