"""Structured JSON logs with a request id on every line."""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid

import structlog
from flask import Flask, g, request

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def configure(level: str) -> None:
    logging.basicConfig(format="%(message)s", stream=sys.stdout, level=getattr(logging, level.upper(), 20))
    # Alembic narrates every migration context at INFO (readyz opens one per call).
    logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def install_request_logging(app: Flask) -> None:
    log = structlog.get_logger("rasoat.http")
    # structlog's stdlib logger renders the event (timestamp, JSON) before logging drops it by
    # level; ask logging first.
    log_enabled = logging.getLogger("rasoat.http").isEnabledFor

    @app.before_request
    def _start():
        # The request id (logs, problem bodies, the audit log) is always the server's own: a
        # client-chosen one could collide with another request's or make two audit entries look
        # like one. A client's (or proxy's) X-Request-ID, when it looks like an id, is kept beside
        # it as client_request_id, so that the two can still be matched up.
        g.request_id = uuid.uuid4().hex
        incoming = request.headers.get("X-Request-ID", "")
        g.client_request_id = incoming if _REQUEST_ID.match(incoming) else None
        g.started = time.perf_counter()
        structlog.contextvars.clear_contextvars()
        if g.client_request_id:
            structlog.contextvars.bind_contextvars(request_id=g.request_id, client_request_id=g.client_request_id)
        else:
            structlog.contextvars.bind_contextvars(request_id=g.request_id)

    @app.after_request
    def _finish(response):
        response.headers["X-Request-ID"] = g.get("request_id", "")
        if not log_enabled(logging.INFO):
            return response
        # The name read at authentication (current.py): the user row itself is expired by any
        # commit of the view, and reading it here would cost a query per request.
        username = g.get("username")
        if username is None and (user := g.get("user")) is not None:
            username = user.username
        log.info("request", method=request.method, path=request.path, status=response.status_code,
                 ms=round((time.perf_counter() - g.get("started", time.perf_counter())) * 1000, 2),
                 user=username)
        return response
