"""Debian's nginx in front of a live server, with the configuration docker-compose uses.

``docker/nginx/rasoat.conf.template`` is rendered with only its two variables (where gunicorn
listens, where nginx listens) substituted, and included in a minimal main configuration that
keeps everything (pid, logs, temporary files) in a private directory. nginx runs in the
foreground as a child of the test, stopped by its pid; no global configuration is read.

    with NginxProxy(upstream=f"127.0.0.1:{live.port}", directory=tmp_path) as proxy:
        proxy.request("GET", "/healthz")
"""

from __future__ import annotations

import contextlib
import http.client
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

from support.live import BIN, ROOT, LiveServer, Response

TEMPLATE = ROOT / "docker" / "nginx" / "rasoat.conf.template"
VARIABLES = ("RASOAT_APP", "RASOAT_PROXY_LISTEN")
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

# What the official image's nginx.conf puts around conf.d/ (minus its global log and pid
# paths), so that the rendered file runs in the same context as in docker-compose.
MAIN = """\
{user}worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log info;
events {{ worker_connections 1024; }}
http {{
    default_type application/octet-stream;
    sendfile on;
    keepalive_timeout 65;
    access_log {dir}/access.log;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    include {dir}/rasoat.conf;
}}
"""


class ProxyError(RuntimeError):
    pass


def render(template: str, values: Mapping[str, str]) -> str:
    """What the image's envsubst does with NGINX_ENVSUBST_FILTER=^RASOAT_ (${NAME} and $NAME)."""
    names = set(re.findall(r"\$\{?(RASOAT_[A-Z_]+)\}?", template))
    if names != set(values):
        raise ProxyError(f"the template's variables are {sorted(names)}, not {sorted(values)}")
    return re.sub(r"\$\{?(RASOAT_[A-Z_]+)\}?", lambda m: values[m.group(1)], template)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class NginxProxy:
    def __init__(self, *, upstream: str, directory: Path, startup_timeout: float = 20.0):
        self.upstream = upstream
        self.directory = Path(directory)
        self.startup_timeout = startup_timeout
        self.host = "127.0.0.1"
        self.port: int | None = None
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> NginxProxy:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def _write_config(self, port: int) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / "rasoat.conf").write_text(render(TEMPLATE.read_text(), {
            "RASOAT_APP": self.upstream, "RASOAT_PROXY_LISTEN": f"{self.host}:{port}"}))
        # As root, nginx would hand its workers to an unprivileged user who cannot write here.
        user = f"user {pwd.getpwuid(os.geteuid()).pw_name};\n" if os.geteuid() == 0 else ""
        main = self.directory / "nginx.conf"
        main.write_text(MAIN.format(dir=self.directory, user=user))
        return main

    def start(self) -> None:
        if not os.path.exists(NGINX):
            raise ProxyError("nginx is not installed (scripts/ensure-nginx installs Debian's)")
        for _attempt in range(3):  # a free port may be taken between the probe and nginx's bind
            port = _free_port()
            main = self._write_config(port)
            log = open(self.directory / "stderr.log", "wb")
            with log:
                self.process = subprocess.Popen(
                    [NGINX, "-p", str(self.directory), "-c", str(main), "-e", str(self.directory / "error.log")],
                    stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
            if self._wait_until_listening(port):
                self.port = port
                return
            if "Address already in use" not in self.logs():
                break
        self.stop()
        raise ProxyError(f"nginx did not start:\n{self.logs()}")

    def _wait_until_listening(self, port: int) -> bool:
        assert self.process is not None
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection((self.host, port), timeout=1):
                return True
            try:
                self.process.wait(timeout=0.05)
            except subprocess.TimeoutExpired:
                continue
            return False  # exited
        return False

    def pause(self, seconds: float) -> None:
        """Wait a little, failing at once if nginx died meanwhile."""
        assert self.process is not None
        try:
            code = self.process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            return
        raise ProxyError(f"nginx exited with {code}:\n{self.logs()}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)  # fast shutdown of the master and its worker
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # its own session: nginx's processes only
            process.wait(timeout=10)

    def request(self, method: str, path: str, *, body: bytes | None = None,
                headers: Mapping[str, str] | None = None, timeout: float = 30) -> Response:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            connection.request(method, path, body=body, headers={"Connection": "close", **(headers or {})})
            response = connection.getresponse()
            return Response(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        finally:
            connection.close()

    def logs(self) -> str:
        parts = []
        for name in ("stderr.log", "error.log"):
            path = self.directory / name
            if path.exists():
                parts.append(f"--- {name}\n{path.read_text(errors='replace')[-4000:]}")
        return "\n".join(parts)


class RasoatServe(LiveServer):
    """A live server started the way a deployment starts it: ``rasoat serve`` (the gunicorn
    settings of server/wsgi_server.py), on a port gunicorn picks."""

    def start(self) -> None:
        command = [str(BIN / "rasoat"), "serve", "--host", self.host, "--port", "0",
                   "--workers", str(self.workers), "--threads", str(self.threads)]
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=out, stderr=err,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
