"""gunicorn, started from Python so that ``rasoat serve`` and docker use the same settings."""

from __future__ import annotations

from gunicorn.app.base import BaseApplication


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


def run(*, host: str, port: int, workers: int, threads: int) -> None:
    _Gunicorn({
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread",
        "timeout": 60,
        "graceful_timeout": 20,
        "accesslog": None,  # the app logs every request itself, as JSON
        "preload_app": False,
    }).run()
