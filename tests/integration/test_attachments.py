"""Attachments belong to submissions (issue 12, findings 2 and 3), over HTTP on a real database.

* Anyone allowed to see a submission that lists a file may read it, provided the submission's
  enumerator uploaded the bytes; nobody else may, whatever hash they declare.
* Existence is not revealed: not by ``missing_attachments``, not by a PUT's status, not by a GET.
* A wrong-bytes PUT is 422 whether or not the hash is stored.
* The type is read from the bytes (JPEG, PNG, WebP, PDF) and must be the declared one.
* Responses carry ``Cache-Control: private, no-store``, ``nosniff``, and
  ``Content-Disposition: attachment`` for anything not an image.
* Uploads no submission lists have a quota per device and expire (``rasoat attachments prune``).
* Reads are audited.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import sqlite3
import uuid

import pytest
import sqlalchemy as sa
from support import COMMUNE_X, COMMUNE_Y, VILLAGE_A, VILLAGE_B, VILLAGE_C, problem
from support.households import household_answers, submission
from support.ops import DIALECTS, fresh_database

from conftest import test_config as make_test_config
from server import create_app
from server.cli import initialise
from server.db import db
from server.models import Attachment, AttachmentUpload, AuditEntry
from server.scoping import Scope
from server.services.areas import create_village, set_area_type
from server.services.users import create_user
from server.storage import storage

PUSH = "/api/v1/sync/push"
WEBP_HEAD = b"RIFF\x10\x00\x00\x00WEBPVP8 "
KINDS = {
    "image/jpeg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
    "image/png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    "image/webp": WEBP_HEAD,
    "application/pdf": b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
}


def jpeg(label: str = "") -> tuple[bytes, str]:
    """Unique bytes that are a JPEG to the sniffer, and their hash."""
    content = KINDS["image/jpeg"] + f" {label} ".encode() + uuid.uuid4().bytes
    return content, hashlib.sha256(content).hexdigest()


def url(sha: str) -> str:
    return f"/api/v1/attachments/{sha}"


def push(client, headers, items, device_id):
    response = client.post(PUSH, json={"device_id": device_id, "submissions": items}, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)[:1000]
    return response.get_json()["results"]


def visit(area: str, sha: str, size: int, field: str = "house_photo") -> dict:
    return submission(area, answers=household_answers(**{field: f"sha256:{sha}"}),
                      attachments=[{"name": field, "sha256": sha, "size": size}])


def put(client, headers, sha, content, content_type="image/jpeg"):
    return client.put(url(sha), data=content, content_type=content_type, headers=headers)


def same_problem(a: dict, b: dict) -> bool:
    """Two problem bodies alike but for the request id."""
    return {k: v for k, v in a.items() if k != "request_id"} == {k: v for k, v in b.items() if k != "request_id"}


class Field:
    """Phones of two communes, their supervisors and a national admin."""

    def __init__(self, accounts):
        self.accounts = accounts
        self.a_user = accounts.create("enumerator", [VILLAGE_A])
        self.a = self.login(self.a_user, "att-a")              # commune X, village A
        self.b = accounts.headers("enumerator", [VILLAGE_B], device_id="att-b")  # commune X, village B
        self.c = accounts.headers("enumerator", [VILLAGE_C], device_id="att-c")  # commune Y
        self.supervisor_x = accounts.headers("supervisor", [COMMUNE_X])
        self.supervisor_y = accounts.headers("supervisor", [COMMUNE_Y])
        self.admin = accounts.headers("admin")

    def login(self, user, device_id: str | None) -> dict:
        extra = {"device_id": device_id} if device_id else {}
        return {"Authorization": f"Bearer {self.accounts.login(user.username, **extra)['access_token']}"}


@pytest.fixture()
def field(accounts) -> Field:
    return Field(accounts)


@pytest.fixture()
def photographed(client, field):
    """Phone A visited a household in village A, pushed it and uploaded its photo."""
    content, sha = jpeg("house")
    item = visit(VILLAGE_A, sha, len(content))
    assert push(client, field.a, [item], "att-a")[0]["missing_attachments"] == [sha]
    assert put(client, field.a, sha, content).status_code == 201
    return item, content, sha


# --- who may read ---------------------------------------------------------------------------


def test_anyone_who_may_see_the_submission_reads_the_file(client, field, photographed):
    item, content, sha = photographed
    colleague = field.accounts.headers("enumerator", [VILLAGE_A])
    for reader in (field.a, colleague, field.supervisor_x, field.admin):
        with client.get(url(sha), headers=reader) as got:
            assert got.status_code == 200 and got.data == content and got.mimetype == "image/jpeg"
    # Village B's enumerator does not see village A's submissions.
    problem(client.get(url(sha), headers=field.b), 404, "request.not_found")
    detail = client.get(f"/api/v1/submissions/{item['id']}", headers=field.supervisor_x).get_json()
    assert detail["complete"] is True and detail["attachments"][0]["received"] is True


def test_declaring_someone_elses_hash_grants_nothing(client, field, photographed):
    _, content, sha = photographed
    never = hashlib.sha256(b"never uploaded " + uuid.uuid4().bytes).hexdigest()
    # Phone C (another commune) lists phone A's photo, and a file nobody has, in its own visit.
    theirs = visit(VILLAGE_C, sha, len(content))
    theirs["attachments"].append({"name": "id_scan", "sha256": never, "size": 10})
    result = push(client, field.c, [theirs], "att-c")[0]
    assert result["status"] == "accepted"
    # The known file is missing for them exactly like the unknown one: existence is not revealed.
    assert result["missing_attachments"] == sorted([sha, never])
    assert push(client, field.c, [theirs], "att-c")[0]["missing_attachments"] == sorted([sha, never])
    # Neither they nor their commune's supervisor may read it: the same 404 as a file nobody has.
    for reader in (field.c, field.supervisor_y):
        known, unknown = (problem(client.get(url(h), headers=reader), 404, "request.not_found") for h in (sha, never))
        assert same_problem(known, unknown)
    detail = client.get(f"/api/v1/submissions/{theirs['id']}", headers=field.supervisor_y).get_json()
    assert detail["complete"] is False and sorted(detail["missing_attachments"]) == sorted([sha, never])


def test_a_phone_that_holds_the_bytes_uploads_them_itself(client, field, photographed):
    """The phone never told "already there" must prove it holds the file; then its own
    commune's supervisor may read the copy it sent (and the answer is 201 as for a new file)."""
    _, content, sha = photographed
    theirs = visit(VILLAGE_C, sha, len(content))
    assert push(client, field.c, [theirs], "att-c")[0]["missing_attachments"] == [sha]
    assert put(client, field.c, sha, content).status_code == 201  # not 200: "someone had it" is not said
    assert put(client, field.c, sha, content).status_code == 200  # its own retry
    assert push(client, field.c, [theirs], "att-c")[0]["missing_attachments"] == []
    with client.get(url(sha), headers=field.supervisor_y) as got:
        assert got.status_code == 200 and got.data == content


def test_the_uploader_reads_nothing_that_no_submission_lists(client, field):
    content, sha = jpeg("loose")
    assert put(client, field.a, sha, content).status_code == 201
    problem(client.get(url(sha), headers=field.a), 404, "request.not_found")
    problem(client.get(url(sha), headers=field.admin), 404, "request.not_found")


def test_a_file_readable_in_ones_areas_counts_as_arrived(client, field, photographed):
    """A phone that lists a file it may already read (another visit in its areas sent it) is
    not asked for it again."""
    _, content, sha = photographed
    colleague = field.accounts.headers("enumerator", [VILLAGE_A], device_id="att-a3")
    again = visit(VILLAGE_A, sha, len(content))
    assert push(client, colleague, [again], "att-a3")[0]["missing_attachments"] == []
    detail = client.get(f"/api/v1/submissions/{again['id']}", headers=field.supervisor_x).get_json()
    assert detail["complete"] is True
    # Village B's enumerator may not read it, so it must send the bytes.
    elsewhere = visit(VILLAGE_B, sha, len(content))
    assert push(client, field.b, [elsewhere], "att-b")[0]["missing_attachments"] == [sha]


# --- uploads --------------------------------------------------------------------------------


def test_wrong_bytes_are_422_whether_or_not_the_hash_is_stored(client, field, photographed):
    _, content, stored = photographed
    other, fresh = jpeg("fresh")
    bodies = [problem(put(client, field.c, sha, b"\xff\xd8\xff tampered" + uuid.uuid4().bytes), 422, "request.invalid")
              for sha in (stored, fresh)]
    assert [b["errors"][0]["code"] for b in bodies] == ["hash_mismatch", "hash_mismatch"]
    assert [b["errors"][0]["path"] for b in bodies] == ["sha256", "sha256"]
    # Even the phone that uploaded it, sending other bytes, is told so (no "already had it").
    problem(put(client, field.a, stored, content + b"x"), 422, "request.invalid")
    with client.get(url(stored), headers=field.a) as got:
        assert got.data == content


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_allowed_type_is_stored_and_served_as_what_it_is(client, field, kind):
    content = KINDS[kind] + uuid.uuid4().bytes
    sha = hashlib.sha256(content).hexdigest()
    push(client, field.a, [visit(VILLAGE_A, sha, len(content))], "att-a")
    assert put(client, field.a, sha, content, kind).status_code == 201
    with client.get(url(sha), headers=field.supervisor_x) as got:
        assert got.status_code == 200 and got.data == content and got.mimetype == kind
        assert got.headers["Cache-Control"] == "private, no-store"
        assert got.headers["X-Content-Type-Options"] == "nosniff"
        disposition = got.headers["Content-Disposition"]
        if kind == "application/pdf":
            assert disposition == f'attachment; filename="{sha}.pdf"'
        else:
            assert disposition.startswith("inline; ")
        assert "sandbox" in got.headers["Content-Security-Policy"]


@pytest.mark.parametrize("content, declared, code", [
    (b"<html><script>alert(document.cookie)</script></html>", "image/png", "unrecognised_type"),
    (b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>", "image/jpeg", "unrecognised_type"),
    (b"GIF89a\x01\x00\x01\x00", "image/png", "unrecognised_type"),
    (b"", "image/jpeg", "unrecognised_type"),
    (KINDS["image/png"], "image/jpeg", "type_mismatch"),
    (KINDS["application/pdf"], "image/png", "type_mismatch"),
    (b"RIFF\x10\x00\x00\x00WAVEfmt ", "image/webp", "unrecognised_type"),
])
def test_bytes_that_are_not_the_declared_allowed_type_are_415(client, field, transaction, content, declared, code):
    content += uuid.uuid4().bytes
    sha = hashlib.sha256(content).hexdigest()
    before = transaction.execute(sa.select(sa.func.count()).select_from(AttachmentUpload)).scalar_one()
    body = problem(put(client, field.a, sha, content, declared), 415, "request.unsupported_media_type")
    assert body["errors"][0]["code"] == code
    if code == "type_mismatch":
        assert body["detected"] != declared
    assert transaction.execute(sa.select(sa.func.count()).select_from(AttachmentUpload)).scalar_one() == before
    assert not storage_has(client, sha)


def test_the_hash_is_checked_before_the_type(client, field):
    """A wrong hash is 422 even for bytes that are no allowed type: nothing is judged before
    the bytes are known to be the ones named."""
    sha = hashlib.sha256(b"something else").hexdigest()
    body = problem(put(client, field.a, sha, b"<html></html>", "image/png"), 422, "request.invalid")
    assert body["errors"][0]["code"] == "hash_mismatch"


def storage_has(client, sha: str) -> bool:
    with client.application.app_context():
        return storage().exists(sha)


def test_a_file_stored_with_a_lying_type_is_served_from_its_bytes(client, app, field):
    """Bytes stored before the check (HTML declared as image/png) come back as a download of
    unknown type, never as what the uploader said."""
    content = b"<html><script>alert(1)</script>" + uuid.uuid4().bytes
    sha = hashlib.sha256(content).hexdigest()
    push(client, field.a, [visit(VILLAGE_A, sha, len(content))], "att-a")
    with app.app_context():
        storage().put(sha, io.BytesIO(content), max_bytes=1 << 20)
        now = dt.datetime.now(dt.UTC)
        db.session.add(Attachment(sha256=sha, size=len(content), content_type="image/png",
                                  uploaded_by=field.a_user.id, created_at=now))
        db.session.flush()
        db.session.add(AttachmentUpload(sha256=sha, user_id=field.a_user.id, size=len(content), created_at=now))
        db.session.commit()
    with client.get(url(sha), headers=field.supervisor_x) as got:
        assert got.status_code == 200 and got.data == content
        assert got.mimetype == "application/octet-stream"
        assert got.headers["Content-Disposition"] == f'attachment; filename="{sha}.bin"'
        assert got.headers["X-Content-Type-Options"] == "nosniff"


def test_conditional_get_still_requires_the_right_to_read(client, field, photographed):
    _, _, sha = photographed
    with client.get(url(sha), headers={**field.supervisor_x, "If-None-Match": f'"{sha}"'}) as got:
        assert got.status_code == 304
        assert got.headers["Cache-Control"] == "private, no-store"
    problem(client.get(url(sha), headers={**field.supervisor_y, "If-None-Match": f'"{sha}"'}), 404)


# --- audit ----------------------------------------------------------------------------------


def test_reads_are_audited_and_refusals_write_nothing(client, field, transaction, photographed):
    item, _, sha = photographed

    def entries():
        return transaction.execute(sa.select(AuditEntry.actor_username, AuditEntry.area_code, AuditEntry.detail)
                                   .where(AuditEntry.action == "attachment.read", AuditEntry.target_id == sha)).all()

    assert entries() == []
    problem(client.get(url(sha), headers=field.supervisor_y), 404)
    assert entries() == []
    with client.get(url(sha), headers=field.supervisor_x) as got:
        assert got.status_code == 200
    me = client.get("/api/v1/me", headers=field.supervisor_x).get_json()
    [(username, area, detail)] = entries()
    assert (username, area, detail["submission_id"]) == (me["username"], VILLAGE_A, item["id"])


# --- quota and expiry -----------------------------------------------------------------------


def test_unlisted_uploads_have_a_quota_per_device(client, field, config):
    (first, first_sha), (second, second_sha), (third, third_sha), (fourth, fourth_sha) = (
        jpeg(label) for label in ("one", "two", "six", "ten"))
    config["ATTACHMENT_QUOTA_BYTES"] = len(first) + len(second) - 1
    assert put(client, field.a, first_sha, first).status_code == 201
    body = problem(put(client, field.a, second_sha, second), 413, "attachment.quota_exceeded")
    assert body["quota_bytes"] == len(first) + len(second) - 1 and body["unreferenced_bytes"] == len(first)
    # The same user's other phone has its own quota.
    other_phone = field.login(field.a_user, "att-a2")
    assert put(client, other_phone, second_sha, second).status_code == 201
    # A file a pushed submission waits for is welcome whatever the quota...
    push(client, field.a, [visit(VILLAGE_A, third_sha, len(third))], "att-a")
    assert put(client, field.a, third_sha, third).status_code == 201
    problem(put(client, field.a, fourth_sha, fourth), 413, "attachment.quota_exceeded")
    # ...and pushing the submission that lists an upload frees its place.
    push(client, field.a, [visit(VILLAGE_A, first_sha, len(first))], "att-a")
    assert put(client, field.a, fourth_sha, fourth).status_code == 201


def test_a_session_without_a_device_has_a_quota_of_its_own(client, field, config):
    content, sha = jpeg("no device")
    config["ATTACHMENT_QUOTA_BYTES"] = len(content) - 1
    no_device = field.login(field.a_user, None)
    problem(put(client, no_device, sha, content), 413, "attachment.quota_exceeded")
    config["ATTACHMENT_QUOTA_BYTES"] = len(content)
    assert put(client, no_device, sha, content).status_code == 201


def age(transaction, sha: str, days: int) -> None:
    when = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
    transaction.execute(sa.update(AttachmentUpload).where(AttachmentUpload.sha256 == sha).values(created_at=when))


def uploads_of(transaction, sha: str) -> int:
    return transaction.execute(sa.select(sa.func.count()).select_from(AttachmentUpload)
                               .where(AttachmentUpload.sha256 == sha)).scalar_one()


def test_prune_deletes_old_unlisted_uploads_and_their_files(app, client, field, transaction, photographed):
    _, listed_content, listed = photographed
    old, old_sha = jpeg("old")
    recent, recent_sha = jpeg("recent")
    shared, shared_sha = jpeg("shared")
    assert put(client, field.a, old_sha, old).status_code == 201
    assert put(client, field.a, recent_sha, recent).status_code == 201
    assert put(client, field.a, shared_sha, shared).status_code == 201
    assert put(client, field.c, shared_sha, shared).status_code == 201
    push(client, field.c, [visit(VILLAGE_C, shared_sha, len(shared))], "att-c")
    for sha in (listed, old_sha, shared_sha):
        age(transaction, sha, 15)
    age(transaction, recent_sha, 13)

    result = app.test_cli_runner().invoke(args=["attachments", "prune"])
    assert result.exit_code == 0, result.output
    assert "pruned 2 uploads older than 14 days" in result.output and f"deleted 1 files ({len(old)} bytes)" \
        in result.output
    # The old loose upload and its file are gone; the phone is asked for it again.
    assert uploads_of(transaction, old_sha) == 0 and not storage_has(client, old_sha)
    assert transaction.execute(sa.select(Attachment).where(Attachment.sha256 == old_sha)).first() is None
    assert push(client, field.a, [visit(VILLAGE_A, old_sha, len(old))], "att-a")[0]["missing_attachments"] == [old_sha]
    # A listed upload stays, however old; a recent one stays; a file someone's visit lists stays.
    assert uploads_of(transaction, listed) == 1 and storage_has(client, listed)
    assert uploads_of(transaction, recent_sha) == 1 and storage_has(client, recent_sha)
    assert uploads_of(transaction, shared_sha) == 1 and storage_has(client, shared_sha)
    with client.get(url(shared_sha), headers=field.supervisor_y) as got:
        assert got.status_code == 200 and got.data == shared
    # The age is an option too.
    result = app.test_cli_runner().invoke(args=["attachments", "prune", "--older-than-days", "10"])
    assert result.exit_code == 0 and "pruned 1 uploads" in result.output
    assert uploads_of(transaction, recent_sha) == 0 and not storage_has(client, recent_sha)


# --- SQLite: locks ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sqlite_phone(db_url, tmp_path_factory):
    """Its own SQLite file (the suite's runs inside one outer transaction), with a phone of village A."""
    if not db_url.startswith("sqlite"):
        pytest.skip("SQLite's locking")
    directory = tmp_path_factory.mktemp("sqlite-attachments")
    path = directory / "attachments.sqlite3"
    app = create_app(make_test_config(f"sqlite:///{path}", directory))
    with app.app_context():
        initialise()
        create_village(Scope(None), parent=COMMUNE_X, code="a", name="Thôn A")
        set_area_type(Scope(None), COMMUNE_X, "rural", dt.date(2025, 7, 1))
        create_user(Scope(None), username="sqlite-phone", password="correct horse battery", role="enumerator",
                    areas=[VILLAGE_A])
    client = app.test_client()
    token = client.post("/api/v1/auth/login", json={"username": "sqlite-phone", "password": "correct horse battery",
                                                    "device_id": "sqlite-a"}).get_json()["access_token"]
    yield app, path, {"Authorization": f"Bearer {token}"}
    with app.app_context():
        db.engine.dispose()


def test_sqlite_a_read_writes_its_audit_entry_in_a_transaction_that_may_write(sqlite_phone):
    """A GET begins deferred (no write lock); upgrading it to write fails at once when another
    writer committed meanwhile, so the audit entry gets a transaction of its own, IMMEDIATE."""
    app, _, headers = sqlite_phone
    client = app.test_client()
    content, sha = jpeg("sqlite")
    push(client, headers, [visit(VILLAGE_A, sha, len(content))], "sqlite-a")
    assert put(client, headers, sha, content).status_code == 201
    with app.app_context():
        engine = db.engine
    begins: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        if statement.startswith("BEGIN"):
            begins.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        with client.get(url(sha), headers=headers) as got:
            assert got.status_code == 200
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    assert begins == ["BEGIN", "BEGIN IMMEDIATE"]
    with app.app_context():
        assert db.session.execute(sa.select(sa.func.count()).select_from(AuditEntry)
                                  .where(AuditEntry.action == "attachment.read")).scalar_one() == 1


class SlowLink(io.RawIOBase):
    """An upload body that, when the server first reads it, checks whether another writer could
    take SQLite's write lock at that moment (the phone's bytes are still on their way)."""

    def __init__(self, content: bytes, path):
        self.content, self.path, self.position, self.lock_was_free = content, path, 0, None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.lock_was_free is None:
            other = sqlite3.connect(self.path, timeout=0.2, isolation_level=None)
            try:
                other.execute("BEGIN IMMEDIATE")
                other.execute("ROLLBACK")
                self.lock_was_free = True
            except sqlite3.OperationalError:
                self.lock_was_free = False
            finally:
                other.close()
        chunk = self.content[self.position:self.position + len(buffer)]
        buffer[:len(chunk)] = chunk
        self.position += len(chunk)
        return len(chunk)


def test_sqlite_an_upload_on_its_way_holds_no_write_lock(sqlite_phone):
    app, path, headers = sqlite_phone
    content, sha = jpeg("slow link")
    link = SlowLink(content, path)
    response = app.test_client().put(url(sha), content_type="image/jpeg", headers=headers, environ_overrides={
        "wsgi.input": io.BufferedReader(link), "CONTENT_LENGTH": str(len(content))})
    assert response.status_code == 201
    assert link.lock_was_free is True


# --- the migration --------------------------------------------------------------------------


@pytest.mark.parametrize("dialect", DIALECTS)
def test_files_stored_before_0010_are_held_by_the_user_who_uploaded_them(dialect, tmp_path):
    """0010 records each stored file as uploaded by ``attachments.uploaded_by``, so files phones
    sent before stay readable through their uploaders' submissions, and no one else's."""
    from alembic import command
    from flask import current_app

    with fresh_database(dialect, tmp_path) as database:
        app = create_app(make_test_config(database, tmp_path / "instance"))
        try:
            with app.app_context():
                migrate = current_app.extensions["migrate"]
                config = migrate.migrate.get_config(migrate.directory)
                command.upgrade(config, "0009_provenance")
                user, now = uuid.uuid4(), dt.datetime(2026, 10, 2, tzinfo=dt.UTC)
                with db.engine.begin() as conn:
                    conn.execute(sa.text(
                        "INSERT INTO users (id, username, password_hash, role, active, display_name, created_at, "
                        "updated_at) VALUES (:id, 'before-0010', 'x', 'enumerator', true, '', :now, :now)"),
                        {"id": user.hex if dialect == "sqlite" else user, "now": now})
                    for sha, uploader in (("a" * 64, user), ("b" * 64, None)):
                        conn.execute(sa.insert(Attachment.__table__).values(
                            sha256=sha, size=7, content_type="image/jpeg", uploaded_by=uploader, created_at=now))
                command.upgrade(config, "0010_attachment_uploads")
                uploads = AttachmentUpload.__table__.c
                with db.engine.connect() as conn:
                    rows = conn.execute(
                        sa.select(uploads.sha256, uploads.user_id, uploads.device_id, uploads.size)).all()
                assert rows == [("a" * 64, user, None, 7)]
                command.downgrade(config, "0009_provenance")
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
