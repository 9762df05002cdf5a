"""The web console for supervisors and admins (``/console/``, issue 11): server-rendered pages
over the same services as the API, with cookie sessions (``auth.py``), CSRF on every form, and
htmx only as an enhancement (every page works without JavaScript).

Each page module under ``views/`` adds its routes to ``blp``; ``register`` imports them all.
"""

from __future__ import annotations

from flask import Blueprint, Flask, render_template, request
from werkzeug.exceptions import HTTPException

from server import errors
from server.console import auth

blp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates",
                static_folder="static", static_url_path="/static")
auth.install(blp)

# Titles of the error page by status (message keys); anything else is "console.error.other".
_ERROR_KEYS = {400: "bad_request", 403: "forbidden", 404: "not_found", 405: "not_allowed", 409: "conflict",
               412: "stale", 413: "too_large", 422: "invalid", 429: "rate_limited", 503: "unavailable"}


def error_page(status: int, detail: str | None = None, headers=None):
    from flask import g

    key = "csrf" if g.get("csrf_failed") else _ERROR_KEYS.get(status, "other")
    # The context is passed explicitly: a routing 404 belongs to no blueprint, so the console's
    # context processor does not run for it.
    body = render_template("console/error.html", status=status, key=key, detail=detail, **auth.template_context())
    return body, status, dict(headers or {})


@blp.errorhandler(errors.Problem)
def _problem(problem: errors.Problem):
    return error_page(problem.status, None, problem.headers)


@blp.errorhandler(HTTPException)
def _http(exc: HTTPException):
    headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
    return error_page(exc.code or 500, None, headers)


def _routing_error(exc: HTTPException):
    """404/405 found by routing (before any blueprint is chosen): an HTML page under /console/,
    the API's problem+json anywhere else (exactly what ``errors.register`` answers)."""
    if request.path == auth.COOKIE_PATH or request.path.startswith(auth.COOKIE_PATH + "/"):
        auth.current_session()  # the page shows who is logged in
        return _http(exc)
    return errors.handle_http_exception(exc)


def register(app: Flask) -> None:
    # BASE helper's pages.
    from server.console.views import conflicts, households, login, queue, submission  # noqa: F401
    # PAGES helper's pages: one import a line.
    from server.console.views import reports  # noqa: F401
    from server.console.views import exports  # noqa: F401
    from server.console.views import season  # noqa: F401
    from server.console.views import dashboard  # noqa: F401
    from server.console.views import map  # noqa: F401
    from server.console.views import admin_users  # noqa: F401
    from server.console.views import admin_areas  # noqa: F401
    from server.console.views import admin_devices  # noqa: F401
    from server.console.views import admin_forms  # noqa: F401
    from server.console.views import admin_parameters  # noqa: F401
    from server.console.views import admin_audit  # noqa: F401

    app.register_blueprint(blp)
    app.register_error_handler(404, _routing_error)
    app.register_error_handler(405, _routing_error)
