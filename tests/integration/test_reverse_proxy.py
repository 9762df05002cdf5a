"""docker-compose's nginx in front of `rasoat serve` (issue 12, finding 4): slow clients are held
by nginx, not by gunicorn's few threads. The proxy is Debian's nginx running the very file
docker-compose mounts (docker/nginx/rasoat.conf.template), with only host and port substituted."""

from __future__ import annotations

import gzip
import http.client
import json
import os
import re
import socket
import time

import pytest
import sqlalchemy as sa
import yaml
from support.live import ROOT, fresh_database
from support.proxy import TEMPLATE, VARIABLES, NginxProxy, RasoatServe

from server.config import DEFAULTS
from server.wsgi_server import TIMEOUTS, options

SLOW_CLIENTS = 50
ADMIN_PASSWORD = "proxy-admin-password"
# The headers of a login POST announcing a body that never comes (the attack).
STALLED_BODY = (b"POST /api/v1/auth/login HTTP/1.1\r\nHost: rasoat\r\nContent-Type: application/json\r\n"
                b"Content-Length: 200\r\n\r\n")
# Headers that never end.
STALLED_HEADERS = b"POST /api/v1/auth/login HTTP/1.1\r\nHost: rasoat\r\nContent-Type: application/json\r\n"


def _template_directive(name: str) -> str:
    found = re.findall(rf"^\s*{name}\s+([^;]+);", TEMPLATE.read_text(), flags=re.MULTILINE)
    assert len(found) == 1, (name, found)
    return found[0].strip()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    directory = tmp_path_factory.mktemp("proxy")
    with fresh_database(os.environ.get("TEST_DATABASE_URL"), directory) as url:
        live = RasoatServe(url, env={"RASOAT_TRUSTED_PROXIES": "1"}, workers=2, threads=4,
                           directory=directory / "live")
        live.cli("init")
        live.cli("user", "create", "proxyadmin", "--role", "admin", "--password-stdin", input=f"{ADMIN_PASSWORD}\n")
        with live, NginxProxy(upstream=f"{live.host}:{live.port}", directory=directory / "nginx") as proxy:
            yield live, proxy


def _open_slow_clients(host: str, port: int) -> tuple[list[socket.socket], list[socket.socket]]:
    stalled_headers, stalled_bodies = [], []
    for i in range(SLOW_CLIENTS):
        client = socket.create_connection((host, port), timeout=5)
        if i % 2:
            client.sendall(STALLED_BODY)
            stalled_bodies.append(client)
        else:
            client.sendall(STALLED_HEADERS)
            stalled_headers.append(client)
    return stalled_headers, stalled_bodies


def _healthz_seconds(host: str, port: int, timeout: float = 1.0) -> float | None:
    """Seconds /healthz took to answer 200 on a new connection, or None if it did not in time."""
    started = time.monotonic()
    try:
        with socket.create_connection((host, port), timeout=timeout) as probe:
            probe.settimeout(max(0.01, timeout - (time.monotonic() - started)))
            probe.sendall(b"GET /healthz HTTP/1.1\r\nHost: rasoat\r\nConnection: close\r\n\r\n")
            head = probe.recv(64)
    except OSError:
        return None
    return time.monotonic() - started if head.startswith(b"HTTP/1.1 200") else None


def _closed_by_peer(client: socket.socket, within: float) -> bool:
    client.settimeout(within)
    try:
        while client.recv(4096):  # nginx may answer 408 before closing
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:  # reset_timedout_connection on
        return True
    return True


def test_fifty_slow_clients_do_not_stop_the_server(served):
    live, proxy = served
    stalled_headers, stalled_bodies = _open_slow_clients(proxy.host, proxy.port)
    try:
        header_timeout = float(_template_directive("client_header_timeout").rstrip("s"))
        # /healthz keeps answering within a second, for as long as nginx holds the slow clients
        # (past its header timeout, which then closes half of them).
        deadline = time.monotonic() + header_timeout + 1
        answered = []
        while time.monotonic() < deadline:
            seconds = _healthz_seconds(proxy.host, proxy.port)
            assert seconds is not None, f"/healthz did not answer within 1 s after {len(answered)} answers"
            answered.append(seconds)
            proxy.pause(0.1)  # the polling interval
        assert len(answered) >= header_timeout * 2, answered
        # A real login goes through meanwhile (bodies are forwarded once complete).
        login = proxy.request("POST", "/api/v1/auth/login", timeout=5, headers={"Content-Type": "application/json"},
                              body=json.dumps({"username": "proxyadmin", "password": ADMIN_PASSWORD}).encode())
        assert login.status == 200, login.body
        # nginx gave up on the clients that never finished their headers.
        still_open = [c for c in stalled_headers if not _closed_by_peer(c, within=2)]
        assert not still_open, f"{len(still_open)} header-stalled connections still open past client_header_timeout"
    finally:
        for client in stalled_headers + stalled_bodies:
            client.close()


def test_without_the_proxy_the_same_clients_stop_gunicorn(served):
    """The control: the attack above does stop bare gunicorn, so the pass above is the proxy's
    doing (and docs/operations.md's warning is true)."""
    live, _proxy = served
    stalled_headers, stalled_bodies = _open_slow_clients(live.host, live.port)
    try:
        assert _healthz_seconds(live.host, live.port, timeout=2.0) is None
    finally:
        for client in stalled_headers + stalled_bodies:
            client.close()
    # Freed: gunicorn answers again.
    deadline = time.monotonic() + 15
    while _healthz_seconds(live.host, live.port) is None:
        assert time.monotonic() < deadline, live.logs()


def test_forwarded_for_is_the_clients_address(served):
    live, proxy = served
    forged = "203.0.113.77"
    response = proxy.request("POST", "/api/v1/auth/login", headers={"Content-Type": "application/json",
                                                                     "X-Forwarded-For": forged},
                             body=json.dumps({"username": "proxyadmin", "password": ADMIN_PASSWORD}).encode())
    assert response.status == 200, response.body
    engine = sa.create_engine(live.db_url)
    try:
        with engine.connect() as connection:
            address = connection.execute(sa.text(
                "SELECT client_address FROM audit_log WHERE action = 'auth.login' ORDER BY id DESC LIMIT 1")).scalar()
    finally:
        engine.dispose()
    assert address == "127.0.0.1"  # nginx's view of the client, not the forged header


def test_body_limit_matches_the_app_and_answers_problem_json(served):
    _live, proxy = served
    assert _template_directive("client_max_body_size") == f"{DEFAULTS['MAX_CONTENT_LENGTH'] // 2**20}m"
    assert DEFAULTS["MAX_CONTENT_LENGTH"] % 2**20 == 0
    # Only the headers: nginx refuses on Content-Length, before any body is sent.
    connection = http.client.HTTPConnection(proxy.host, proxy.port, timeout=5)
    try:
        connection.putrequest("PUT", "/api/v1/attachments/" + "0" * 64)
        connection.putheader("Content-Type", "image/jpeg")
        connection.putheader("Content-Length", str(DEFAULTS["MAX_CONTENT_LENGTH"] + 1))
        connection.endheaders()
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    assert response.status == 413
    assert response.getheader("Content-Type") == "application/problem+json"
    problem = json.loads(body)
    assert problem["code"] == "request.too_large" and problem["limit_bytes"] == DEFAULTS["MAX_CONTENT_LENGTH"]


def test_the_apps_headers_pass_through(served):
    _live, proxy = served
    page = proxy.request("GET", "/api/docs")
    assert page.status == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY" and page.headers["cache-control"] == "no-store"
    assert page.headers["server"] == "nginx"  # server_tokens off: no version


def test_text_goes_gzipped_to_phones_and_still_revalidates(served):
    """The field app's shell, catalogues and manifest, and the API's JSON, reach a phone on 2G
    gzipped by nginx (never by Flask: gunicorn answers them plain); the ETag nginx makes weak
    still gets a 304; the answers that carry tokens are never compressed (BREACH)."""
    live, proxy = served
    shell = {"/app/js/app/main.js": "text/javascript", "/app/css/app.css": "text/css",
             "/app/i18n/vi.json": "application/json", "/app/manifest.webmanifest": "application/manifest+json",
             "/app/": "text/html"}
    for path, kind in shell.items():
        plain = live.request("GET", path, headers={"Accept-Encoding": "gzip"})
        assert plain.status == 200 and "content-encoding" not in plain.headers, path  # not in Flask
        zipped = proxy.request("GET", path, headers={"Accept-Encoding": "gzip"})
        assert zipped.status == 200 and zipped.headers.get("content-encoding") == "gzip", (path, zipped.headers)
        assert zipped.headers["content-type"].split(";")[0] == kind
        assert "accept-encoding" in zipped.headers["vary"].lower()
        assert gzip.decompress(zipped.body) == plain.body
        assert len(zipped.body) < len(plain.body) * 0.75, (path, len(zipped.body), len(plain.body))
        assert zipped.headers["etag"] == f"W/{plain.headers['etag']}"  # made weak by gzip
        again = proxy.request("GET", path, headers={"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["etag"]})
        assert again.status == 304, path
        unasked = proxy.request("GET", path)
        assert "content-encoding" not in unasked.headers and unasked.body == plain.body

    login = proxy.request("POST", "/api/v1/auth/login", headers={"Content-Type": "application/json",
                                                                 "Accept-Encoding": "gzip"},
                          body=json.dumps({"username": "proxyadmin", "password": ADMIN_PASSWORD}).encode())
    assert login.status == 200 and "content-encoding" not in login.headers
    token = json.loads(login.body)["access_token"]
    form = proxy.request("GET", "/api/v1/forms/household-review/versions/2027.2",
                         headers={"Authorization": f"Bearer {token}", "Accept-Encoding": "gzip"})
    assert form.status == 200 and form.headers.get("content-encoding") == "gzip"
    assert json.loads(gzip.decompress(form.body))["version"] == "2027.2"


def test_a_dead_app_answers_503_problem_json(tmp_path):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    with NginxProxy(upstream=f"127.0.0.1:{dead}", directory=tmp_path / "nginx") as proxy:
        response = proxy.request("GET", "/healthz")
    assert response.status == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "5"
    assert response.json()["code"] == "server.unavailable"


def test_docker_compose_runs_this_configuration():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    app, proxy = services["app"], services["proxy"]
    assert "ports" not in app, "gunicorn must not be published: only the proxy faces clients"
    assert re.fullmatch(r"1|\$\{RASOAT_TRUSTED_PROXIES:-1\}", str(app["environment"]["RASOAT_TRUSTED_PROXIES"]))
    mounted = dict(volume.split(":")[:2] for volume in proxy["volumes"])
    assert mounted[f"./{TEMPLATE.relative_to(ROOT)}"] == "/etc/nginx/templates/default.conf.template"
    assert set(proxy["environment"]) == {*VARIABLES, "NGINX_ENVSUBST_FILTER"}
    assert all(re.match(proxy["environment"]["NGINX_ENVSUBST_FILTER"], name) for name in VARIABLES)
    assert proxy["environment"]["RASOAT_APP"] == "app:8000"


def test_rasoat_serve_sets_gunicorn_timeouts():
    settings = options(host="127.0.0.1", port=0, workers=2, threads=4)
    assert settings["worker_class"] == "gthread"
    assert 0 < settings["timeout"] <= 60 and 0 < settings["keepalive"] <= 10
    assert settings["graceful_timeout"] == TIMEOUTS["graceful_timeout"]
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    grace = int(compose["services"]["app"]["stop_grace_period"].rstrip("s"))
    assert grace > settings["graceful_timeout"], "docker would kill requests gunicorn lets finish"
