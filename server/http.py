"""Request guards that apply to every API call (content types and body size), and what a
request tells the unit of work (whether it writes, where its changes come from)."""

from __future__ import annotations

from flask import Flask, current_app, g, request

from server.db import db, set_read_only
from server.errors import Problem
from server.services import audit

# Endpoints that take something other than JSON declare it with @accepts(...).
ACCEPTS_ATTRIBUTE = "_rasoat_accepts"
BODY_METHODS = {"POST", "PUT", "PATCH"}
# Requests that never write (no view changes data on them).
READING_METHODS = {"GET", "HEAD", "OPTIONS"}


def accepts(*mimetypes: str):
    def decorate(view):
        setattr(view, ACCEPTS_ATTRIBUTE, frozenset(mimetypes))
        return view

    return decorate


def install_request_guards(app: Flask) -> None:
    @app.before_request
    def _check_body():
        if request.method not in BODY_METHODS or not request.path.startswith("/api/"):
            return
        if request.endpoint is None:
            return  # no such route (or method): let routing answer 404/405, not 415
        view = current_app.view_functions.get(request.endpoint or "")
        allowed = getattr(view, ACCEPTS_ATTRIBUTE, frozenset({"application/json"}))
        has_body = bool(request.content_length) or request.headers.get("Transfer-Encoding") == "chunked"
        if not has_body:
            return
        if request.mimetype not in allowed:
            raise Problem("request.unsupported_media_type",
                          f"Send the body as {' or '.join(sorted(allowed))}, not {request.mimetype or 'nothing'}.")
        if request.mimetype == "application/json":
            limit = current_app.config["MAX_JSON_BYTES"]
            if request.content_length and request.content_length > limit:
                raise _json_too_large(limit)
            if request.content_length is None:
                # Chunked: no Content-Length to check, so the body is read here, one byte past the
                # limit at most (werkzeug stops reading there, silently), and refused at the door
                # like a declared one, by every JSON endpoint whether or not its view reads it.
                # (Public endpoints read JSON bodies of this size anyway.)
                request.max_content_length = limit + 1
                if len(request.get_data(cache=True)) > limit:
                    raise _json_too_large(limit)

    @app.before_request
    def _check_nul():
        # PostgreSQL cannot store NUL (U+0000) in text: refuse it at the door, not with a 500.
        if "\x00" in request.path:
            raise Problem("request.malformed", "The URL may not contain the NUL character (%00).")
        fields = [("query", request.args)]
        if request.mimetype in {"multipart/form-data", "application/x-www-form-urlencoded"}:
            fields.append(("form", request.form))
        message = "Text may not contain the NUL character (U+0000)."
        errors = [{"path": key.replace("\x00", "\ufffd"), "code": "nul", "message": message, "in": location}
                  for location, values in fields
                  for key in sorted({k for k, v in values.items(multi=True) if "\x00" in f"{k}{v}"})]
        if errors:
            raise Problem("request.invalid", message, errors=errors)


def _json_too_large(limit: int) -> Problem:
    return Problem("request.too_large", f"JSON bodies are limited to {limit} bytes.", limit_bytes=limit)


def install_unit_of_work(app: Flask) -> None:
    """Tell each request's database session what the request is, so that neither the engine nor
    the services read the request: a GET, HEAD or OPTIONS request only reads (on SQLite its
    transactions take no write lock), and audit entries carry the request id and the client's
    address (the authenticated caller is added by ``server.security.current``)."""

    @app.before_request
    def _describe_request():
        session = db.session()
        set_read_only(session, request.method in READING_METHODS)
        audit.set_origin(session, audit.Origin(request_id=g.get("request_id"), client_address=request.remote_addr))

    @app.teardown_request
    def _forget_request(_exc):
        # A session that outlives the request (one app context around several test requests)
        # must not keep describing it.
        if db.session.registry.has():
            session = db.session()
            set_read_only(session, False)
            audit.set_origin(session, None)
