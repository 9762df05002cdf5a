"""Every failure is a problem+json with a stable code; bad input never answers 500. Plus the
users administration endpoints (create, conflicts, validation, sessions, pagination)."""

from __future__ import annotations

import io
import json
import logging
import re
import unicodedata

import pytest
from support import COMMUNE_X, VILLAGE_A, VILLAGE_B, bearer, problem

from conftest import test_config as make_test_config
from server import create_app
from server.security.current import public

PASSWORD = "correct horse battery"



@pytest.fixture()
def admin(accounts) -> dict:
    return accounts.headers("admin", [])


def _login_body(**extra) -> dict:
    return {"username": "ai-do", "password": "whatever-it-is", **extra}


# --- HTTP-level errors --------------------------------------------------------------------------

def test_unknown_path_is_a_problem(client):
    body = problem(client.get("/api/v1/no/such/thing"), 404, "request.not_found")
    assert body["type"] == "urn:rasoat:problem:request.not_found"
    assert body["title"] == "Not found"
    assert body["request_id"]
    problem(client.get("/nowhere"), 404, "request.not_found")
    problem(client.get("/api/v1/users/not-a-uuid"), 404, "request.not_found")


def test_wrong_method_says_which_are_allowed(client):
    response = client.delete("/api/v1/me")
    problem(response, 405, "request.method_not_allowed")
    assert {m.strip() for m in response.headers["Allow"].split(",")} >= {"GET"}
    assert "DELETE" not in response.headers["Allow"]
    response = client.get("/api/v1/auth/login")
    problem(response, 405, "request.method_not_allowed")
    assert "POST" in response.headers["Allow"]


def test_json_body_over_the_json_limit_is_413(client, config):
    config["MAX_JSON_BYTES"] = 1000
    body = json.dumps(_login_body(password="x" * 2000))
    response = client.post("/api/v1/auth/login", data=body, content_type="application/json")
    detail = problem(response, 413, "request.too_large")
    assert detail["limit_bytes"] == 1000


def test_body_over_max_content_length_is_413(client, config, admin):
    config["MAX_CONTENT_LENGTH"] = 2000
    # JSON, which is checked again against MAX_CONTENT_LENGTH when read.
    response = client.post("/api/v1/users", data=json.dumps({"display_name": "x" * 3000}),
                           content_type="application/json", headers=admin)
    problem(response, 413, "request.too_large")
    # A multipart upload.
    csv = "parent,code,name\n" + "".join(f"{COMMUNE_X},v{i},Thôn {i}\n" for i in range(200))
    response = client.post("/api/v1/areas/import", headers=admin,
                           data={"file": (io.BytesIO(csv.encode()), "villages.csv")},
                           content_type="multipart/form-data")
    problem(response, 413, "request.too_large")


def test_wrong_content_type_is_415(client, admin):
    body = problem(client.post("/api/v1/auth/login", data=json.dumps(_login_body()), content_type="text/plain"),
                   415, "request.unsupported_media_type")
    assert "application/json" in body["detail"]
    problem(client.post("/api/v1/auth/login", data=json.dumps(_login_body())), 415, "request.unsupported_media_type")
    problem(client.post("/api/v1/users", headers=admin, data="username=x&password=y",
                        content_type="application/x-www-form-urlencoded"), 415, "request.unsupported_media_type")
    # An upload endpoint refuses JSON in turn.
    problem(client.post("/api/v1/areas/import", headers=admin, json={"file": "x"}), 415,
            "request.unsupported_media_type")


@pytest.mark.parametrize("raw", [b'{"username": "a", "password": ', b"{'username': 'a'}", b"\xff\xfe\x00",
                                 b'{"a": 1}{"b": 2}', b"   ",
                                 # Not JSON (RFC 8259), though Python's json module takes them; PostgreSQL's
                                 # JSONB would refuse them later, as a 500.
                                 b"NaN", b'{"username": "a", "password": Infinity}', b'{"x": 1e999}'])
def test_malformed_json_is_400(client, raw):
    body = problem(client.post("/api/v1/auth/login", data=raw, content_type="application/json"),
                   400, "request.malformed_json")
    assert body["detail"]


@pytest.mark.parametrize("payload", [[1, 2], "a string", 42, None])
def test_json_that_is_not_an_object_is_422(client, payload):
    response = client.post("/api/v1/auth/login", data=json.dumps(payload), content_type="application/json")
    body = problem(response, 422, "request.invalid")
    assert body["errors"] and all(e["in"] == "json" for e in body["errors"])


def test_wrong_types_name_their_fields(client):
    body = problem(client.post("/api/v1/auth/login", json={"username": 5, "password": ["x"]}), 422, "request.invalid")
    assert sorted((e["path"], e["code"]) for e in body["errors"]) == [("password", "invalid"), ("username", "invalid")]
    body = problem(client.post("/api/v1/auth/login", json={"username": "a"}), 422, "request.invalid")
    assert [(e["path"], e["code"], e["in"]) for e in body["errors"]] == [("password", "required", "json")]


def test_nested_errors_carry_their_path(client, admin):
    body = problem(client.post("/api/v1/users", headers=admin, json={
        "username": "long-path", "password": PASSWORD, "role": "enumerator", "areas": [VILLAGE_A, 7]}),
        422, "request.invalid")
    assert [(e["path"], e["code"]) for e in body["errors"]] == [("areas/1", "invalid")]
    body = problem(client.post("/api/v1/users", headers=admin, json={
        "username": "long-path", "password": PASSWORD, "role": "enumerator", "areas": [VILLAGE_A, "01-99999-zz"]}),
        422, "request.invalid")
    assert [(e["path"], e["code"]) for e in body["errors"]] == [("areas/1", "unknown_area")]


def test_query_string_errors_say_so(client, admin):
    body = problem(client.get("/api/v1/users?limit=0", headers=admin), 422, "request.invalid")
    assert [(e["path"], e["in"]) for e in body["errors"]] == [("limit", "query")]
    body = problem(client.get("/api/v1/users?role=king", headers=admin), 422, "request.invalid")
    assert [e["path"] for e in body["errors"]] == ["role"]


def test_unknown_fields_are_rejected(client, accounts, admin):
    body = problem(client.post("/api/v1/auth/login", json=_login_body(is_admin=True)), 422, "request.invalid")
    assert [(e["path"], e["code"], e["in"]) for e in body["errors"]] == [("is_admin", "unknown_field", "json")]
    user = accounts.create("enumerator", [VILLAGE_A])
    # Mass assignment: nothing but the declared fields reaches the model.
    for field, value in (("password_hash", "$argon2id$forged"), ("id", "00000000-0000-0000-0000-000000000001"),
                         ("username", "renamed")):
        body = problem(client.patch(f"/api/v1/users/{user.id}", headers=admin, json={field: value}),
                       422, "request.invalid")
        assert [(e["path"], e["code"]) for e in body["errors"]] == [(field, "unknown_field")]
    after = client.get(f"/api/v1/users/{user.id}", headers=admin).get_json()
    assert after["username"] == user.username


# --- 500 -------------------------------------------------------------------------------------------

@pytest.fixture()
def exploding_app(db_url, tmp_path):
    application = create_app({**make_test_config(db_url, tmp_path), "TESTING": False})

    @public
    def boom():
        raise RuntimeError("database password is hunter2")

    application.add_url_rule("/api/v1/boom", "boom", boom)
    return application


def test_unexpected_error_is_a_500_problem_without_the_traceback(exploding_app, caplog):
    caplog.set_level(logging.ERROR, logger="rasoat.errors")
    response = exploding_app.test_client().get("/api/v1/boom", headers={"X-Request-ID": "boom-request-1"})
    body = problem(response, 500, "server.error")
    request_id = response.headers["X-Request-ID"]
    assert body["request_id"] == request_id != "boom-request-1"  # the server's own id
    text = response.get_data(as_text=True)
    for leak in ("hunter2", "Traceback", "RuntimeError", "test_errors.py", 'File "'):
        assert leak not in text
    assert "request id" in body["detail"]

    logged = [json.loads(r.getMessage()) for r in caplog.records if r.name == "rasoat.errors"]
    assert len(logged) == 1, caplog.records
    entry = logged[0]
    assert (entry["request_id"], entry["client_request_id"]) == (request_id, "boom-request-1")
    assert entry["level"] == "error"
    assert entry["error"] == "RuntimeError"
    assert "hunter2" in entry["exception"] and "Traceback" in entry["exception"]


def test_unexpected_error_gets_a_fresh_request_id_when_none_is_sent(exploding_app, caplog):
    caplog.set_level(logging.ERROR, logger="rasoat.errors")
    response = exploding_app.test_client().get("/api/v1/boom")
    body = problem(response, 500, "server.error")
    assert re.fullmatch(r"[0-9a-f]{32}", body["request_id"])
    assert [json.loads(r.getMessage())["request_id"] for r in caplog.records if r.name == "rasoat.errors"] == [
        body["request_id"]]


# --- text and request ids -----------------------------------------------------------------------

def test_text_is_stored_in_nfc(client, admin):
    nfd = unicodedata.normalize("NFD", "Nguyễn Thị Hoà")
    assert nfd != "Nguyễn Thị Hoà"
    created = client.post("/api/v1/users", headers=admin, json={
        "username": "Hoa.NT", "password": PASSWORD, "role": "enumerator",
        "areas": [VILLAGE_A], "display_name": nfd})
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["display_name"] == "Nguyễn Thị Hoà"
    assert unicodedata.is_normalized("NFC", body["display_name"])
    assert body["username"] == "hoa.nt"  # new usernames are ASCII (tests/integration/test_usernames.py)
    fetched = client.get(f"/api/v1/users/{body['id']}", headers=admin).get_json()
    assert fetched["display_name"] == "Nguyễn Thị Hoà"
    # Any case logs in.
    for typed in ("Hoa.NT", "HOA.NT"):
        ok = client.post("/api/v1/auth/login", json={"username": typed, "password": PASSWORD})
        assert ok.status_code == 200, (typed, ok.get_json())
    # Vietnamese leaves the server readable, not as \\u escapes.
    assert "Nguyễn Thị Hoà".encode() in client.get(f"/api/v1/users/{body['id']}", headers=admin).get_data()


def test_the_request_id_is_the_servers_whatever_the_client_sends(client):
    response = client.get("/api/v1/me", headers={"X-Request-ID": "phone-7.sync_42"})
    request_id = response.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    assert problem(response, 401)["request_id"] == request_id
    ok = client.get("/healthz", headers={"X-Request-ID": "abc"})
    assert ok.status_code == 200 and re.fullmatch(r"[0-9a-f]{32}", ok.headers["X-Request-ID"])


@pytest.mark.parametrize("bad", ["has space", "x" * 65, "new\\nline", "semi;colon", ""])
def test_unsafe_request_ids_are_replaced(client, bad):
    response = client.get("/api/v1/me", headers={"X-Request-ID": bad})
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])
    assert problem(response, 401)["request_id"] == response.headers["X-Request-ID"]


# --- users administration -------------------------------------------------------------------------

def _create(client, headers, **fields):
    body = {"password": PASSWORD, "role": "enumerator", "areas": [VILLAGE_A], **fields}
    return client.post("/api/v1/users", headers=headers, json=body)


def test_create_user(client, admin):
    response = _create(client, admin, username="Tao.Moi", role="supervisor", areas=[COMMUNE_X],
                       display_name="Trần Văn Mới")
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert set(body) == {"id", "username", "display_name", "role", "areas", "active", "created_at"}
    assert body == {**body, "username": "tao.moi", "display_name": "Trần Văn Mới", "role": "supervisor",
                    "areas": [COMMUNE_X], "active": True}
    assert "password" not in response.get_data(as_text=True)
    listed = client.get(f"/api/v1/users/{body['id']}", headers=admin).get_json()
    assert listed == body
    # The new user can log in with the password that was set.
    assert client.post("/api/v1/auth/login", json={"username": "tao.moi", "password": PASSWORD}).status_code == 200


def test_duplicate_username_is_409(client, admin):
    assert _create(client, admin, username="trung").status_code == 201
    for again in ("trung", "TRUNG", " Trung "):
        body = problem(_create(client, admin, username=again.strip()), 409, "user.username_taken")
        assert [e["path"] for e in body["errors"]] == ["username"]


def test_short_password_is_422(client, admin):
    body = problem(_create(client, admin, username="ngan", password="short"), 422, "request.invalid")
    assert [(e["path"], e["code"]) for e in body["errors"]] == [("password", "too_short")]
    missing = problem(_create(client, admin, username="ngan", role="enumerator", areas=[]), 422, "request.invalid")
    assert [e["path"] for e in missing["errors"]] == ["areas"]


def test_patch_role_areas_and_active(client, admin, accounts):
    user = accounts.create("enumerator", [VILLAGE_A])
    response = client.patch(f"/api/v1/users/{user.id}", headers=admin,
                            json={"role": "supervisor", "areas": [COMMUNE_X]})
    assert response.status_code == 200, response.get_json()
    assert (response.get_json()["role"], response.get_json()["areas"]) == ("supervisor", [COMMUNE_X])
    response = client.patch(f"/api/v1/users/{user.id}", headers=admin, json={"areas": [VILLAGE_B, VILLAGE_A]})
    assert response.get_json()["areas"] == [VILLAGE_A, VILLAGE_B]
    response = client.patch(f"/api/v1/users/{user.id}", headers=admin, json={"active": False})
    assert response.get_json()["active"] is False
    fetched = client.get(f"/api/v1/users/{user.id}", headers=admin).get_json()
    assert (fetched["role"], fetched["areas"], fetched["active"]) == ("supervisor", [VILLAGE_A, VILLAGE_B], False)
    body = problem(client.patch(f"/api/v1/users/{user.id}", headers=admin, json={"role": "king"}), 422)
    assert [e["path"] for e in body["errors"]] == ["role"]
    audit = client.get("/api/v1/audit?action=user.update", headers=admin).get_json()["items"]
    assert [e["detail"] for e in audit if e["target_id"] == str(user.id)] == [
        {"role": "supervisor", "areas": [COMMUNE_X]}, {"areas": [VILLAGE_A, VILLAGE_B]}, {"active": False}]


def test_deactivation_ends_the_users_sessions(client, admin, accounts):
    user = accounts.create("enumerator", [VILLAGE_A])
    tokens = accounts.login(user.username, device_id="phone-off")
    assert client.get("/api/v1/me", headers=bearer(tokens)).status_code == 200
    assert client.patch(f"/api/v1/users/{user.id}", headers=admin, json={"active": False}).status_code == 200
    problem(client.get("/api/v1/me", headers=bearer(tokens)), 401, "auth.invalid_token")
    problem(client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}), 401)
    problem(client.post("/api/v1/auth/login", json={"username": user.username, "password": PASSWORD}),
            401, "auth.invalid_credentials")
    # Reactivated: a new login works; the old session stays dead.
    assert client.patch(f"/api/v1/users/{user.id}", headers=admin, json={"active": True}).status_code == 200
    fresh = accounts.login(user.username)
    assert client.get("/api/v1/me", headers=bearer(fresh)).status_code == 200
    problem(client.get("/api/v1/me", headers=bearer(tokens)), 401, "auth.invalid_token")


def test_a_role_change_ends_old_tokens(client, admin, accounts):
    user = accounts.create("supervisor", [COMMUNE_X])
    tokens = accounts.login(user.username)
    assert client.get("/api/v1/devices", headers=bearer(tokens)).status_code == 200
    client.patch(f"/api/v1/users/{user.id}", headers=admin, json={"role": "enumerator", "areas": [VILLAGE_A]})
    problem(client.get("/api/v1/devices", headers=bearer(tokens)), 401, "auth.invalid_token")


def test_users_pagination_walks_every_page_once(client, admin, accounts):
    made = {accounts.create("enumerator", [VILLAGE_A], username=f"trang-{i}").username for i in range(5)}
    seen, pages, cursor = [], 0, None
    while True:
        response = client.get("/api/v1/users?limit=2" + (f"&cursor={cursor}" if cursor else ""), headers=admin)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        assert len(body["items"]) <= 2
        seen.extend(item["username"] for item in body["items"])
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
        assert pages < 20
    assert len(seen) == len(set(seen)), seen
    assert made <= set(seen)
    assert len(seen) == 6  # the five and the admin
    assert pages == 3
    assert seen == sorted(seen)


def _flip(text: str, index: int) -> str:
    return text[:index] + ("A" if text[index] != "A" else "B") + text[index + 1:]


def test_a_tampered_or_foreign_cursor_is_410(client, admin, accounts):
    for i in range(3):
        accounts.create("enumerator", [VILLAGE_A], username=f"con-tro-{i}")
    cursor = client.get("/api/v1/users?limit=1", headers=admin).get_json()["next_cursor"]
    assert cursor
    body_part, signature = cursor.split(".")
    for bad in (_flip(cursor, 0), _flip(cursor, len(body_part) + 1), body_part, "garbage", "a.b.c", "ż.ż",
                signature + "." + body_part):
        body = problem(client.get("/api/v1/users", headers=admin, query_string={"cursor": bad}),
                       410, "cursor.invalid")
        assert body["detail"]
    # A cursor made for another list is not accepted here.
    devices_like = client.get("/api/v1/areas?limit=1", headers=admin).get_json()["next_cursor"]
    problem(client.get("/api/v1/users", headers=admin, query_string={"cursor": devices_like}), 410, "cursor.invalid")


@pytest.mark.parametrize("url", ["/api/v1/auth/login", "/api/v1/sync/push", "/api/v1/forms"])
def test_absurdly_nested_json_is_4xx_not_500(client, accounts, url):
    headers = accounts.headers("admin") if url.endswith("forms") else accounts.headers("enumerator", ["01-00004-a"])
    deep = "[" * 1000 + "]" * 1000
    body = f'{{"username": "a", "password": "b", "device_id": "x", "submissions": [{{"answers": {deep}}}], "x": {deep}}}'
    response = client.post(url, data=body.encode(), content_type="application/json", headers=headers)
    assert 400 <= response.status_code < 500, (response.status_code, response.get_data(as_text=True)[:300])
    assert response.mimetype == "application/problem+json"
