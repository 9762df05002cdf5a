"""How /app/ is served (issue 9, item 1): the page, the manifest, the service worker with the
shell's version and file list, ETags and revalidation, the CSP on pages and scripts, and nothing
but the shell's own files (no Python, no Node package notes)."""

from __future__ import annotations

import json
import re

from server.field_app.app import HERE


def test_the_page_and_the_manifest(client):
    page = client.get("/app/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert '<script type="module" src="/app/js/app/main.js"></script>' in html
    assert "<style" not in html and " style=" not in html and not re.search(r"<script(?![^>]*src=)", html)
    # Every module of the shell is preloaded with the page (a warm start fetches them at once).
    for module in (HERE / "js" / "app").rglob("*.js"):
        if module.name != "main.js":
            assert f'<link rel="modulepreload" href="/app/{module.relative_to(HERE).as_posix()}">' in html, module
    assert "'unsafe-inline'" not in page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]

    manifest = client.get("/app/manifest.webmanifest")
    assert manifest.status_code == 200 and manifest.mimetype == "application/manifest+json"
    body = json.loads(manifest.get_data())
    assert body["start_url"] == "/app/" and body["scope"] == "/app/" and body["display"] == "standalone"
    for icon in body["icons"]:
        assert client.get(icon["src"]).status_code == 200, icon


def test_the_service_worker_names_its_version_and_every_file_of_the_shell(client):
    worker = client.get("/app/sw.js")
    assert worker.status_code == 200 and worker.mimetype == "text/javascript"
    assert worker.headers["Cache-Control"] == "no-cache"
    assert worker.headers["Service-Worker-Allowed"] == "/app/"
    text = worker.get_data(as_text=True)
    version = re.search(r'^const SHELL_VERSION = "([0-9a-f]{16})";', text, re.M).group(1)
    files = json.loads(re.search(r"^const SHELL_FILES = (\[.*\]);$", text, re.M).group(1))
    assert client.get("/app/version.json").get_json() == {"version": version}
    # The page, the app, the form renderer, the expression evaluator, styles, catalogues, icons.
    for needed in ("/app/", "/app/js/app/main.js", "/app/js/form/index.js", "/app/js/forms/index.js",
                   "/app/css/app.css", "/app/i18n/vi.json", "/app/i18n/en.json", "/app/manifest.webmanifest",
                   "/app/icons/icon-192.png"):
        assert needed in files, needed
    assert "/app/sw.js" not in files
    # Every module the shell imports is in the list (or the app would break offline).
    on_disk = {f"/app/{p.relative_to(HERE).as_posix()}" for p in HERE.rglob("*.js") if p.name != "sw.js"}
    assert on_disk <= set(files)
    for url in files:
        assert client.get(url).status_code == 200, url


def test_files_revalidate_by_etag_and_nothing_else_is_served(client):
    first = client.get("/app/js/app/main.js")
    assert first.status_code == 200 and first.mimetype == "text/javascript"
    assert first.headers["Cache-Control"] == "no-cache"
    etag = first.headers["ETag"]
    again = client.get("/app/js/app/main.js", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b""
    # The weak form nginx sends back after gzipping (If-None-Match compares weakly), in a list.
    weak = client.get("/app/js/app/main.js", headers={"If-None-Match": f'"other", W/{etag}'})
    assert weak.status_code == 304
    assert client.get("/app/js/app/main.js", headers={"If-None-Match": 'W/"other"'}).status_code == 200
    assert client.get("/app/i18n/vi.json").mimetype == "application/json"
    for hidden in ("/app/app.py", "/app/__init__.py", "/app/js/forms/package.json", "/app/../landing.py",
                   "/app/nothing.js"):
        assert client.get(hidden).status_code == 404, hidden


def test_the_catalogues_have_the_same_keys_in_both_languages(client):
    vi = client.get("/app/i18n/vi.json").get_json()
    en = client.get("/app/i18n/en.json").get_json()
    assert set(vi) == set(en)
    assert vi["tab.assigned"] == "Được giao" and vi["home.new"] == "+ Hộ mới" and vi["tab.fix"] == "Cần sửa"
    # Every key the shell asks for exists (keys built at run time are listed by their prefix).
    used = set()
    for path in (HERE / "js" / "app").rglob("*.js"):
        used |= set(re.findall(r"\bt\('([a-z_.]+)'", path.read_text()))
    assert used - set(vi) == set()
