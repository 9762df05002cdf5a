"""Who is at the console: cookie sessions, CSRF, the ``page`` decorator, and what every console
template can use (words, number and date formats, the navigation).

Sessions. A console login is a row of the same ``auth_sessions`` table as a phone's login
(``server.services.sessions.open_console_session``): the cookie carries only that row's id, signed
with the server's secret. Every request reads the row, so logout, password change, deactivation
and revocation end a browser session on its next request, exactly as they end a phone's tokens.
The cookie is HttpOnly, SameSite=Strict, Secure in production, scoped to ``/console``, and slides:
each request more than ``RENEW_AFTER`` after the last renewal gives it its full time again.

CSRF. Every POST (and PUT/PATCH/DELETE) to the console carries a token: a form field
(``csrf_field()``) or, from htmx, the ``X-CSRF-Token`` header (console.js copies it from a
``<meta>``). The token is an HMAC of the session id under the server's secret, so it needs no
storage and dies with the session. Before login there is no session: the login form's token is
bound to a random pre-session cookie instead (login CSRF). A request without a valid token is
refused with a 403 page before any view runs.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlencode

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, g, redirect, request, url_for
from itsdangerous import BadSignature, URLSafeSerializer
from markupsafe import Markup
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from server import i18n
from server.db import db, utcnow
from server.models import ROLES, AuthSession, User
from server.scoping import scope_of
from server.services import audit, sessions
from sync.core import VIETNAM

COOKIE = "rasoat_console"
PRE_COOKIE = "rasoat_console_pre"
COOKIE_PATH = "/console"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# A session is renewed at most this often: a write per click would be wasted on a slow disk.
RENEW_AFTER = dt.timedelta(minutes=5)
ROLES_ATTRIBUTE = "_rasoat_console_roles"

# The top bar, in ui.md's order: (message key, endpoint). An item shows when its endpoint exists
# and the user's role may open it (the roles its ``page`` decorator declares). An item is also
# "current" for the endpoints named after it: ``console.season_meetings`` lights "season".
NAV: tuple[tuple[str, str], ...] = (
    ("console.nav.dashboard", "console.dashboard"),
    ("console.nav.queue", "console.queue"),
    ("console.nav.households", "console.households"),
    ("console.nav.conflicts", "console.conflicts"),
    ("console.nav.season", "console.season"),
    ("console.nav.reports", "console.reports"),
    ("console.nav.exports", "console.exports"),
    ("console.nav.admin", "console.admin"),
)


# --- the cookie -----------------------------------------------------------------------------

def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="rasoat.console.session")


def _cookie_session_id() -> uuid.UUID | None:
    """The session id the request's cookie names, if its signature holds (not yet checked
    against the database)."""
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    try:
        return uuid.UUID(str(_serializer().loads(raw)))
    except (BadSignature, ValueError, TypeError):
        return None


def _secure() -> bool:
    return current_app.config["ENV"] == "production"


def set_session_cookie(response, session: AuthSession) -> None:
    response.set_cookie(COOKIE, _serializer().dumps(str(session.id)), path=COOKIE_PATH,
                        max_age=current_app.config["CONSOLE_SESSION_TTL_SECONDS"],
                        httponly=True, samesite="Strict", secure=_secure())


def clear_session_cookie(response) -> None:
    response.delete_cookie(COOKIE, path=COOKIE_PATH, httponly=True, samesite="Strict", secure=_secure())


def current_session() -> AuthSession | None:
    """The request's live console session (user loaded), or None: no cookie, a forged one, or a
    session that was logged out, revoked, expired, or whose user was deactivated."""
    if "console_session" in g:
        return g.console_session
    found = None
    session_id = _cookie_session_id()
    if session_id is not None:
        row = db.session.execute(
            sa.select(User, AuthSession).join(AuthSession, AuthSession.user_id == User.id)
            .where(AuthSession.id == session_id, AuthSession.device_id.is_(None))
            .options(joinedload(User.area_links))
        ).unique().first()
        if row is not None:
            user, session = row
            if session.revoked_at is None and session.expires_at > utcnow() and user.active:
                found = session
                g.user = user
                g.username = user.username
                g.auth_session = session
                g.scope = scope_of(user)
                unit_of_work = db.session()
                audit.set_origin(unit_of_work, dataclasses.replace(audit.origin_of(unit_of_work), user=user))
    g.console_session = found
    return found


def _renew(session: AuthSession) -> None:
    now = utcnow()
    ttl = dt.timedelta(seconds=current_app.config["CONSOLE_SESSION_TTL_SECONDS"])
    if session.expires_at - now > ttl - RENEW_AFTER:
        return
    with db.engine.begin() as connection:
        expires_at = sessions.extend_console_session(connection, session.id, now)
    # Known to the loaded row without making it dirty: the request's own transaction must not
    # write it again (a GET's transaction only reads).
    set_committed_value(session, "expires_at", expires_at)
    g.console_renewed = True


# --- the decorator --------------------------------------------------------------------------

def page(*roles: str) -> Callable:
    """Every console view: a live cookie session (else 303 to the login page, coming back here
    afterwards) and one of ``roles`` (else the 403 page); any role when none are given.
    Sets ``g.user``, ``g.scope`` (server.scoping.Scope) and ``g.auth_session``."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {unknown}")
    allowed = frozenset(roles or ROLES)

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any):
            session = current_session()
            if session is None:
                target = request.full_path if request.query_string else request.path
                return redirect(url_for("console.login", next=target), code=303)
            if g.user.role not in allowed:
                abort(403)
            _renew(session)
            return view(*args, **kwargs)

        setattr(wrapper, ROLES_ATTRIBUTE, allowed)
        return wrapper

    return decorate


def may_open(endpoint: str, role: str | None = None) -> bool:
    """Does ``endpoint`` exist, and may the current user (or ``role``) open it?"""
    view = current_app.view_functions.get(endpoint)
    if view is None:
        return False
    role = role or (g.user.role if g.get("user") is not None else None)
    return role in getattr(view, ROLES_ATTRIBUTE, frozenset())


def safe_next(target: str | None) -> str | None:
    """Where to go after login: a console path only (never another site: ``//evil``, ``/\\evil``)."""
    if not target or not target.startswith(COOKIE_PATH + "/") or "\\" in target or target.startswith("//"):
        return None
    return target


# --- CSRF -----------------------------------------------------------------------------------

def _csrf_secret() -> str | None:
    session_id = _cookie_session_id()
    if session_id is not None:
        return f"session:{session_id}"
    pre = request.cookies.get(PRE_COOKIE)
    return f"pre:{pre}" if pre and 20 <= len(pre) <= 100 else None


def _token_for(secret: str) -> str:
    return hmac.new(current_app.config["SECRET_KEY"].encode(), f"rasoat.console.csrf:{secret}".encode(),
                    hashlib.sha256).hexdigest()


def csrf_token() -> str:
    """The token of this browser's session (or, before login, of its pre-session cookie, which
    the response then sets)."""
    if g.get("csrf_after_login"):
        return _token_for(g.csrf_after_login)
    secret = _csrf_secret()
    if secret is None:
        g.new_pre_cookie = g.get("new_pre_cookie") or secrets.token_urlsafe(32)
        secret = f"pre:{g.new_pre_cookie}"
    return _token_for(secret)


def csrf_field() -> Markup:
    return Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, csrf_token())


def check_csrf() -> None:
    """Refuse an unsafe request whose token is missing or is not this browser's (403)."""
    if request.method not in UNSAFE_METHODS:
        return
    sent = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD) or ""
    secret = _csrf_secret()
    if secret is None or not hmac.compare_digest(sent.encode(), _token_for(secret).encode()):
        g.csrf_failed = True
        abort(403)


# --- words, numbers, dates ------------------------------------------------------------------

def language() -> str:
    return i18n.language()


def t(key: str, **values: Any) -> str:
    return i18n.translate(key, language(), **values)


def fmt_number(value: Any, decimals: int = 0) -> str:
    """1.500.000 in Vietnamese, 1,500,000 in English; "—" for nothing."""
    if value is None or value == "":
        return "—"
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        return str(value)
    text = f"{number:,.{decimals}f}"
    if language() == "vi":
        text = text.translate(str.maketrans({",": ".", ".": ","}))
    return text


def fmt_money(value: Any) -> str:
    return "—" if value is None or value == "" else f"{fmt_number(value)} đ"


def _vietnam(value: Any) -> dt.datetime | dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)  # stored in UTC
        return value.astimezone(VIETNAM)
    return value


def fmt_date(value: Any) -> str:
    moment = _vietnam(value)
    return "—" if moment is None else moment.strftime("%d/%m/%Y")


def fmt_datetime(value: Any) -> str:
    moment = _vietnam(value)
    if moment is None:
        return "—"
    if not isinstance(moment, dt.datetime):
        return moment.strftime("%d/%m/%Y")
    return moment.strftime("%d/%m/%Y %H:%M")


# Pages that belong under another page's item in the top bar.
NAV_SECTION = {"console.submission": "console.queue", "console.conflict": "console.conflicts",
               "console.household": "console.households"}


def nav_items() -> list[dict[str, Any]]:
    if g.get("console_session") is None:
        return []
    endpoint = request.endpoint or ""
    endpoint = next((section for page, section in NAV_SECTION.items()
                     if endpoint == page or endpoint.startswith(page + "_")), endpoint)
    items = []
    for key, target in NAV:
        if may_open(target):
            items.append({"label": t(key), "url": url_for(target),
                          "current": endpoint == target or endpoint.startswith(target + "_")})
    return items


def url_with(**changes: Any) -> str:
    """The current page's URL with some query parameters changed (None removes one)."""
    if request.method != "GET":
        # The answer to a POST: its URL cannot be opened again; the page it shows can (a view
        # names it in ``g.page_url``), else the console's front door.
        base = g.get("page_url") or url_for("console.index")
        path, _, query = base.partition("?")
        args = {k: v for k, v in parse_qs(query, keep_blank_values=True).items()}
    else:
        path, args = request.path, request.args.to_dict(flat=False)
    for key, value in changes.items():
        if value is None:
            args.pop(key, None)
        else:
            args[key] = [value]
    query = urlencode(args, doseq=True)
    return path + ("?" + query if query else "")


def template_context() -> dict[str, Any]:
    lang = language()
    return {
        "t": t, "lang": lang, "other_lang": "en" if lang == "vi" else "vi",
        "csrf_field": csrf_field, "csrf_token": csrf_token,
        "fmt_number": fmt_number, "fmt_money": fmt_money, "fmt_date": fmt_date, "fmt_datetime": fmt_datetime,
        "nav": nav_items, "url_with": url_with, "may_open": may_open,
        "current_user": g.get("user") if g.get("console_session") is not None else None,
    }


# --- wiring ---------------------------------------------------------------------------------

def install(blp: Blueprint) -> None:
    blp.before_request(check_csrf)
    blp.context_processor(template_context)

    @blp.after_request
    def _cookies(response):
        if request.args.get("lang") in i18n.LANGUAGES:
            response.set_cookie(i18n.COOKIE, request.args["lang"], max_age=365 * 24 * 3600, samesite="Strict",
                                httponly=True, secure=_secure())
        if g.get("new_pre_cookie"):
            response.set_cookie(PRE_COOKIE, g.new_pre_cookie, path=COOKIE_PATH, httponly=True, samesite="Strict",
                                secure=_secure())
        session = g.get("console_session")
        if g.get("console_renewed") and session is not None and COOKIE not in _set_cookie_names(response):
            set_session_cookie(response, session)
        return response


def _set_cookie_names(response) -> set[str]:
    return {value.split("=", 1)[0] for value in response.headers.getlist("Set-Cookie")}
