"""The one error catalogue: every failure leaves the API as RFC 9457 problem+json.

Raise ``Problem("code", detail=...)`` anywhere below a view; the status and title come from
the catalogue so that a code always means the same thing to a phone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson
import psycopg
import sqlalchemy as sa
import structlog
from flask import Flask, Response, g
from werkzeug.exceptions import HTTPException

from forms.problems import SUBMISSION_CODES
from sync.core import ITEM_CODES

log = structlog.get_logger("rasoat.errors")

PROBLEM_MEDIA_TYPE = "application/problem+json"

# Sent with every 503: long enough for PostgreSQL to restart, short enough for a phone to finish
# its sync while the officer still holds it.
RETRY_AFTER_SECONDS = 5

# code -> (status, title)
CATALOGUE: dict[str, tuple[int, str]] = {
    "request.malformed": (400, "Malformed request"),
    "request.malformed_json": (400, "The body is not valid JSON"),
    "request.invalid": (422, "The request has invalid fields"),
    "request.not_found": (404, "Not found"),
    "request.method_not_allowed": (405, "Method not allowed"),
    "request.too_large": (413, "Request too large"),
    "request.unsupported_media_type": (415, "Unsupported media type"),
    "request.precondition_failed": (412, "Precondition failed"),
    "request.precondition_required": (428, "Precondition required"),
    "request.rate_limited": (429, "Too many requests"),
    "request.conflict": (409, "Conflict"),
    "request.gone": (410, "Gone"),
    "auth.required": (401, "Authentication required"),
    "auth.invalid_credentials": (401, "Invalid username or password"),
    "auth.invalid_token": (401, "Invalid or expired token"),
    "auth.refresh_reused": (401, "Refresh token already used; the session is revoked"),
    "auth.forbidden": (403, "Not allowed"),
    "auth.device_revoked": (403, "This device has been revoked"),
    # 409, not 403: the credentials are right and the user may log in; the device id is in a
    # state (registered to someone else) that a release changes, after which the same request
    # succeeds. A phone must not treat it like auth.device_revoked (stop for good).
    "auth.device_taken": (409, "This device is registered to another user"),
    "device.revoked": (409, "The device is revoked"),
    # 413: this upload does not fit in what the device may hold unreferenced; pushing the
    # submissions that list its earlier uploads frees it (waiting does not, hence not 429).
    "attachment.quota_exceeded": (413, "Too many bytes uploaded that no submission lists"),
    "user.username_taken": (409, "Username already taken"),
    "area.exists": (409, "Area already exists"),
    "form.invalid": (422, "The form definition has problems"),
    "form.version_exists": (409, "This form version already exists"),
    "form.version_immutable": (409, "Published and closed versions cannot change"),
    "form.state": (409, "Not allowed in the version's current state"),
    "conflict.resolved": (409, "This conflict is already resolved"),
    "season.closed": (409, "The commune's decision has closed this review year"),
    "cursor.invalid": (410, "Cursor expired or unknown; start again without one"),
    "server.error": (500, "Internal server error"),
    "server.unavailable": (503, "Service unavailable"),
}

# The codes of a pushed item's errors: each item of a push is answered alone inside the 200
# (``{"status": "rejected", "errors": [{path, code, message}]}``), with the sync core's codes
# (what the phone should do for each) or the form's answer codes.
PUSH_ITEM_CODES: Mapping[str, str] = {**ITEM_CODES, **SUBMISSION_CODES}

_HTTP_CODES = {
    400: "request.malformed",
    401: "auth.required",
    403: "auth.forbidden",
    404: "request.not_found",
    405: "request.method_not_allowed",
    409: "request.conflict",
    410: "request.gone",
    412: "request.precondition_failed",
    413: "request.too_large",
    415: "request.unsupported_media_type",
    422: "request.invalid",
    428: "request.precondition_required",
    429: "request.rate_limited",
    503: "server.unavailable",
}


class Problem(Exception):
    def __init__(
        self,
        code: str,
        detail: str | None = None,
        *,
        errors: Iterable[Mapping[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
        status: int | None = None,
        **extra: Any,
    ):
        self.code = code
        self.status, self.title = CATALOGUE.get(code, (status or 400, code))
        if status is not None:
            self.status = status
        self.detail = detail or self.title
        self.errors = list(errors) if errors is not None else None
        self.headers = dict(headers or {})
        self.extra = extra
        super().__init__(f"{code}: {self.detail}")


def field_error(path: str, code: str, message: str) -> dict[str, str]:
    return {"path": path, "code": code, "message": message}


def invalid(path: str, code: str, message: str) -> Problem:
    """A 422 naming one field."""
    return Problem("request.invalid", message, errors=[field_error(path, code, message)])


def problem_response(problem: Problem) -> Response:
    body: dict[str, Any] = {
        "type": f"urn:rasoat:problem:{problem.code}",
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
        "code": problem.code,
    }
    if problem.errors is not None:
        body["errors"] = problem.errors
    request_id = g.get("request_id")
    if request_id:
        body["request_id"] = request_id
    body.update(problem.extra)
    response = Response(orjson.dumps(body), status=problem.status, mimetype=PROBLEM_MEDIA_TYPE)
    for name, value in problem.headers.items():
        response.headers[name] = value
    if problem.status == 503 and "Retry-After" not in response.headers:
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def database_unavailable(exc: BaseException | None) -> bool:
    """The database could not be reached, dropped the connection (restart, failover) or could not
    finish for a transient reason (an OperationalError: deadlock, timeout, SQLite busy), here or
    earlier in the chain. Such a request may succeed if sent again: a 503 with Retry-After, not a
    500. Code that caught the first error (push's per-item savepoints) and went on meets
    SQLAlchemy's "Can't reconnect until invalid transaction is rolled back" (error code 8s2b:
    the connection was lost inside this transaction), which is the same thing."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, sa.exc.OperationalError | sa.exc.DisconnectionError | psycopg.OperationalError):
            return True
        if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
            return True
        if isinstance(exc, sa.exc.PendingRollbackError) and exc.code == "8s2b":
            return True
        exc = exc.__cause__ or exc.__context__
    return False


_MESSAGE_CODES = {
    "Missing data for required field.": "required",
    "Unknown field.": "unknown_field",
    "Field may not be null.": "null",
    "Invalid input type.": "type",
}


def flatten_messages(messages: Any, prefix: str = "") -> list[dict[str, str]]:
    """marshmallow's nested message dicts -> [{path, code, message}]."""
    out: list[dict[str, str]] = []
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            key = "" if key == "_schema" else str(key)
            path = f"{prefix}/{key}" if prefix and key else (prefix or key)
            out.extend(flatten_messages(value, path))
    elif isinstance(messages, list | tuple):
        for item in messages:
            if isinstance(item, Mapping | list | tuple):
                out.extend(flatten_messages(item, prefix))
            else:
                text = str(item)
                out.append(field_error(prefix, _MESSAGE_CODES.get(text, "invalid"), text))
    else:
        text = str(messages)
        out.append(field_error(prefix, _MESSAGE_CODES.get(text, "invalid"), text))
    return out


def _from_http_exception(exc: HTTPException) -> Problem:
    status = exc.code or 500
    data = getattr(exc, "data", None) or {}
    headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
    headers.update(data.get("headers") or {})
    messages = data.get("messages") or data.get("errors")
    if status == 400 and messages and "json" in messages and messages["json"] == ["Invalid JSON body."]:
        return Problem("request.malformed_json", "The request body is not valid JSON.", headers=headers)
    code = _HTTP_CODES.get(status, "request.malformed" if status < 500 else "server.error")
    errors = None
    if messages:
        # webargs groups messages by location (json, query, ...); paths are within it.
        errors = []
        for location, located in messages.items():
            for err in flatten_messages(located):
                err["in"] = location
                errors.append(err)
    detail = data.get("message") or exc.description
    if errors:
        detail = "; ".join(f"{e['path'] or '(body)'}: {e['message']}" for e in errors[:5])
    return Problem(code, detail, errors=errors, headers=headers, status=status)


def register(app: Flask) -> None:
    app.register_error_handler(Problem, problem_response)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        return problem_response(_from_http_exception(exc))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        unavailable = database_unavailable(exc)
        if unavailable:
            cause = getattr(exc, "orig", None) or exc
            log.warning("database_unavailable", error=type(exc).__name__,
                        reason=(str(cause).strip().splitlines() or [""])[0][:200])
        else:
            log.exception("unhandled_exception", error=type(exc).__name__)
        # A failed flush leaves the session unusable; after_request hooks (the request log
        # reads the user) and teardown must not trip over it and turn the 500 into a crash.
        from server.db import db

        try:
            db.session.rollback()
        except Exception:  # noqa: BLE001 - the database may be what failed
            log.warning("rollback_failed", exc_info=True)
        if unavailable:
            return problem_response(Problem("server.unavailable", "The database is unavailable or busy; "
                                                                  "send the same request again after Retry-After "
                                                                  "seconds."))
        return problem_response(
            Problem("server.error", "An unexpected error occurred; quote the request id when reporting it.")
        )


def handle_http_exception(exc: HTTPException):
    """Used by flask-smorest's Api (which otherwise renders its own error shape)."""
    return problem_response(_from_http_exception(exc))
