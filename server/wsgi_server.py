"""gunicorn, started from Python so that ``rasoat serve`` and docker use the same settings."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication

# Timeouts and limits (issue 12). gunicorn's gthread workers give a thread to each connection
# while it sends its request, and have no timeout for a request that arrives slowly: only a
# buffering proxy in front protects them from slow clients (docker/nginx/rasoat.conf.template,
# docs/operations.md). What gunicorn itself can bound is set here.
TIMEOUTS: dict[str, Any] = {
    # A worker whose main loop stops answering the master for this long is killed and replaced.
    # (gthread: the loop beats while threads serve, so a long request is not killed.)
    "timeout": 30,
    # On stop or reload, requests in flight get this long to finish (a phone's push batch);
    # docker-compose's stop_grace_period is longer.
    "graceful_timeout": 30,
    # An idle kept-alive connection is closed after this long.
    "keepalive": 5,
    # Request line and headers: 8 KiB each at most (gunicorn's maximum; nginx's
    # large_client_header_buffers are 8 KiB too), 100 headers.
    "limit_request_line": 8190,
    "limit_request_fields": 100,
    "limit_request_field_size": 8190,
}


class _Gunicorn(BaseApplication):
    def __init__(self, options: dict):
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from server import create_app

        return create_app()


def options(*, host: str, port: int, workers: int, threads: int) -> dict[str, Any]:
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread",
        **TIMEOUTS,
        "accesslog": None,  # the app logs every request itself, as JSON
        "preload_app": False,
    }


def run(*, host: str, port: int, workers: int, threads: int) -> None:
    _Gunicorn(options(host=host, port=port, workers=workers, threads=threads)).run()
