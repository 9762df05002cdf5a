"""``/app/``: the field app, an offline-first web app for enumerators' phones.

The files are served as they are in this folder (plain ES modules, no build step). Two answers
are made here rather than read from disk:

- ``/app/sw.js``: the service worker, prefixed with the shell's *version* (a hash of every
  file's content) and the list of files to precache. Any change to any file of the shell changes
  the worker's bytes, which is how a browser learns that a new release exists. It is served
  ``no-cache`` (and the worker is registered with ``updateViaCache: 'none'``) so that the check
  always reaches the server.
- ``/app/`` itself: ``index.html``.

Every other file is answered with a content ETag and ``Cache-Control: no-cache``: the service
worker keeps the copies that are used offline, so the HTTP cache only needs to revalidate
cheaply when a new version is installed. Versioned file names would need a build step.

The folder can be moved with ``RASOAT_FIELD_APP_DIR`` (a deployment that ships the shell apart
from the Python package, and the browser test that publishes a "new release" mid-form).
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from flask import Blueprint, Flask, Response, abort, current_app, request

from server.security.current import public

HERE = Path(__file__).resolve().parent
# What belongs to the shell: everything the app needs offline. Python files, tests and notes
# are not sent to phones.
SHELL_SUFFIXES = frozenset({".html", ".js", ".mjs", ".css", ".json", ".webmanifest", ".svg", ".png", ".woff2"})
NOT_SHELL = frozenset({"package.json"})  # tells Node that a folder holds ES modules; no use to a browser
MIME = {".js": "text/javascript", ".mjs": "text/javascript", ".webmanifest": "application/manifest+json",
        ".json": "application/json", ".css": "text/css", ".svg": "image/svg+xml", ".png": "image/png",
        ".html": "text/html", ".woff2": "font/woff2"}

blp = Blueprint("field_app", __name__, url_prefix="/app")


@dataclass(frozen=True)
class Shell:
    version: str
    files: dict[str, tuple[bytes, str]]  # relative path -> (content, etag)


class ShellCache:
    """The shell's files and version, read again when a file changes (stat signature)."""

    def __init__(self, root: Path):
        self.root = root
        self._lock = threading.Lock()
        self._signature: tuple | None = None
        self._shell: Shell | None = None

    def _paths(self) -> list[Path]:
        found = []
        for path in self.root.rglob("*"):
            if path.is_file() and path.suffix in SHELL_SUFFIXES and path.name not in NOT_SHELL \
                    and path.name != "sw.js" and "__pycache__" not in path.parts:
                found.append(path)
        return sorted(found)

    def get(self) -> Shell:
        paths = self._paths()
        sw = self.root / "sw.js"
        signature = tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in [*paths, sw])
        with self._lock:
            if signature != self._signature or self._shell is None:
                files = {}
                whole = hashlib.sha256()
                for path in [*paths, sw]:
                    content = path.read_bytes()
                    relative = path.relative_to(self.root).as_posix()
                    digest = hashlib.sha256(content).hexdigest()
                    whole.update(relative.encode() + b"\0" + digest.encode() + b"\n")
                    files[relative] = (content, f'"{digest[:32]}"')
                self._shell = Shell(version=whole.hexdigest()[:16], files=files)
                self._signature = signature
            return self._shell


def _cache() -> ShellCache:
    return current_app.extensions["rasoat_field_app"]


def _not_modified(etag: str) -> bool:
    """If-None-Match uses the weak comparison (RFC 9110, 13.1.2): nginx turns our ETag into
    W/"…" when it gzips the answer (docker/nginx/rasoat.conf.template), and the browser sends that
    back; it must still get its 304."""
    tags = [t.strip().removeprefix("W/") for t in request.headers.get("If-None-Match", "").split(",")]
    return etag in tags or "*" in tags


def _answer(content: bytes, mimetype: str, etag: str | None, cache_control: str = "no-cache") -> Response:
    if etag is not None and _not_modified(etag):
        response = Response(status=304)
    else:
        response = Response(content, mimetype=mimetype)
    if etag is not None:
        response.headers["ETag"] = etag
    response.headers["Cache-Control"] = cache_control
    return response


def precached(shell: Shell) -> list[str]:
    """The URLs the service worker stores at install: the page itself and every file."""
    return ["/app/"] + [f"/app/{name}" for name in shell.files if name not in ("index.html", "sw.js")]


@blp.route("/", methods=["GET"])
@public
def index():
    content, etag = _cache().get().files["index.html"]
    return _answer(content, "text/html", etag)


@blp.route("/sw.js", methods=["GET"])
@public
def service_worker():
    shell = _cache().get()
    head = (f"const SHELL_VERSION = {json.dumps(shell.version)};\n"
            f"const SHELL_FILES = {json.dumps(precached(shell))};\n")
    content = head.encode() + shell.files["sw.js"][0]
    response = _answer(content, "text/javascript", f'"{shell.version}"')
    # A worker at /app/sw.js controls /app/ by default; said explicitly for proxies that rewrite.
    response.headers["Service-Worker-Allowed"] = "/app/"
    return response


@blp.route("/version.json", methods=["GET"])
@public
def version():
    """The running release, for the app's "about" line and for operators."""
    response = Response(json.dumps({"version": _cache().get().version}), mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


@blp.route("/<path:name>", methods=["GET"])
@public
def shell_file(name: str):
    entry = _cache().get().files.get(name)
    if entry is None or name == "sw.js":
        abort(404)
    content, etag = entry
    suffix = os.path.splitext(name)[1]
    return _answer(content, MIME.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream", etag)


def register(app: Flask) -> None:
    root = Path(os.environ.get("RASOAT_FIELD_APP_DIR") or app.config.get("FIELD_APP_DIR") or HERE)
    app.extensions["rasoat_field_app"] = ShellCache(root)
    app.register_blueprint(blp)
