"""A visit's life on the phone beyond a new household (issue 9, items 4, 6, 7), in chromium at a
phone's size against gunicorn, through the real app (shell, form renderer, IndexedDB, sync):

- an assigned household (*Được giao*) opens a visit prefilled with last year's approved record,
  and the finished visit is stored by the server as that household's next revision;
- a photo taken in the form is stored on the phone, sent with its visit, and held once by the
  server (also after the phone sends everything again);
- a visit waiting in *Chờ gửi* can be taken back for editing (same ids, back in the drafts);
  a sent one cannot.
"""

from __future__ import annotations

import hashlib
import os
import struct
import uuid
import zlib

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect
from support.field_app import (ENUMERATOR, FORM_KEY, SUPERVISOR, VILLAGE, Phone, api, api_token, fill_household,
                               household)
from support.households import household_answers, submission
from support.live import LiveServer, fresh_database

ADMIN = ("admin", "demo-admin-2026")
LAST_YEAR = ("rasoat0", "enumerator-last-year-2025")


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    with fresh_database(os.environ.get("TEST_DATABASE_URL"), tmp_path_factory.mktemp("field-visits")) as url:
        server = LiveServer(url, workers=2, env={"RASOAT_DEMO": "1"})
        server.cli("init")
        server.cli("demo")
        server.cli("user", "create", LAST_YEAR[0], "--role", "enumerator", "--area", VILLAGE, "--password-stdin",
                   input=f"{LAST_YEAR[1]}\n")
        with server:
            yield server


def rows(live, table: str, column: str, value) -> int:
    engine = sa.create_engine(live.db_url)
    t = sa.table(table, sa.column(column))
    try:
        with engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(t).where(t.c[column] == value)).scalar_one()
    finally:
        engine.dispose()


def finish(phone: Phone) -> None:
    page = phone.page
    page.get_by_test_id("form-finish").click()
    expect(page.locator("nav.tabs [data-tab=pending]")).to_have_class("tab active")


def outbox(phone: Phone) -> list[dict]:
    return phone.page.evaluate("window.rasoatApp.session.visits.outbox()")


def new_visit(phone: Phone) -> None:
    page = phone.page
    page.get_by_role("button", name="+ Hộ mới").click()
    page.locator("select[name=form]").select_option(FORM_KEY)
    page.get_by_test_id("start-visit").click()
    expect(page.locator(".rf-title")).to_be_visible()


def last_years_household(live, head_name: str, code: str) -> tuple[str, dict]:
    """Pushed by last year's enumerator on the previous standard's form (2022.2) in October 2025,
    then approved by the supervisor: the record this year's visit starts from."""
    answers = household_answers("2022.2", area_type="urban", head_name=head_name, household_code=code,
                                address="Số 7, ngõ 12, Tổ dân phố số 1", floor_area=42)
    item = submission(VILLAGE, year="2022.2", answers=answers, started_at="2025-10-03T08:10:00+07:00",
                      finished_at="2025-10-03T08:52:00+07:00")
    token = api_token(live, *LAST_YEAR)
    pushed = api(live, token, "POST", "/api/v1/sync/push", {"device_id": "phone-last-year", "submissions": [item]})
    assert pushed.status == 200 and pushed.json()["results"][0]["status"] == "accepted", pushed.body
    supervisor = api_token(live, *SUPERVISOR)
    read = api(live, supervisor, "GET", f"/api/v1/submissions/{item['id']}")
    review = api(live, supervisor, "POST", f"/api/v1/submissions/{item['id']}/review", {"action": "approve"},
                 headers={"If-Match": read.headers["etag"]})
    assert review.status == 200, review.body
    return item["household_id"], answers


def user_id(live, username: str) -> str:
    token = api_token(live, *ADMIN)
    users = api(live, token, "GET", "/api/v1/users?role=enumerator&limit=100").json()["items"]
    return next(u["id"] for u in users if u["username"] == username)


def test_an_assigned_household_opens_prefilled_and_is_stored_as_its_next_revision(phone, live):
    mine, answers = last_years_household(live, "Trần Văn Lâm", "TDP1-0042")
    other, _ = last_years_household(live, "Hoàng Thị Mai", "TDP1-0043")
    supervisor = api_token(live, *SUPERVISOR)
    for household_id, who in ((mine, ENUMERATOR[0]), (other, LAST_YEAR[0])):
        put = api(live, supervisor, "PUT", f"/api/v1/households/{household_id}/assignment",
                  {"enumerator_id": user_id(live, who)})
        assert put.status == 200, put.body

    page = phone.open()
    phone.log_in(*ENUMERATOR)
    phone.wait_synced()
    # The village assigns its households: only the one assigned to this enumerator came.
    assert phone.tab_count("assigned") == 1
    phone.tab("assigned")
    card = page.get_by_test_id("household")
    expect(card).to_have_count(1)
    expect(card).to_contain_text("Trần Văn Lâm")
    expect(card).to_contain_text("TDP1-0042")
    phone.shot("field-assigned-393")

    # Offline in the village: open it; last year's answers are there.
    phone.offline(True)
    card.click()
    expect(page.locator(".rf-title")).to_be_visible()
    expect(page.get_by_label("Họ và tên chủ hộ")).to_have_value("Trần Văn Lâm")
    expect(page.get_by_label("Mã hộ", exact=False).first).to_have_value("TDP1-0042")
    expect(page.get_by_label("Địa chỉ", exact=False).first).to_have_value("Số 7, ngõ 12, Tổ dân phố số 1")
    # The citizen ID number stayed on the server (forms/prefill.py): not on the phone, not on screen.
    assert answers["head_cccd"] not in phone.raw_text()
    assert answers["head_cccd"] not in page.content()
    phone.shot("field-assigned-prefilled-393")
    # The draft already holds the prefill, and it left "Được giao" for "Bản nháp".
    draft = page.evaluate("window.rasoatApp.session.visits.drafts()")[0]
    assert draft["household_id"] == mine and draft["household_rev"] == 1 and draft["form_version"] == "2027.2"

    # Only what is new this year is typed: the 2027 standard's waste question and this year's income.
    fill_household(page, {"waste_disposal": "collected", "income_wages": 60000000})
    expect(page.get_by_test_id("member-card")).to_have_count(0)  # the result page: the roster came over
    finish(phone)
    entry = outbox(phone)[0]
    assert entry["item"]["household_id"] == mine and entry["item"]["household_rev"] == 1
    assert entry["item"]["answers"]["head_name"] == "Trần Văn Lâm"
    assert len(entry["item"]["answers"]["members"]) == len(answers["members"])
    assert all(m.get("member_id") for m in entry["item"]["answers"]["members"])

    phone.offline(False)
    phone.sync_now()
    expect(page.locator("[data-testid=results] > li[data-status=accepted]")).to_have_count(1)
    stored = api(live, supervisor, "GET", f"/api/v1/submissions/{entry['id']}").json()
    assert stored["household_id"] == mine
    assert stored["answers"]["income_wages"] == 60000000
    assert stored["answers"]["waste_disposal"] == "collected"
    assert stored["answers"]["floor_area"] == 42  # carried from last year, untouched
    record = api(live, supervisor, "GET", f"/api/v1/households/{mine}").json()
    assert record["rev"] == 2
    assert record["answers"]["head_cccd"] == answers["head_cccd"]  # withheld, not erased (sync.merge)
    assert rows(live, "households", "id", uuid.UUID(mine)) == 1
    assert rows(live, "submissions", "household_id", uuid.UUID(mine)) == 2  # last year's and this one
    assert phone.violations() == []
    assert phone.foreign_requests() == []
    assert phone.errors == []


def png(width: int, height: int) -> bytes:
    """A camera-sized picture (a gradient), written by hand: no imaging library needed."""
    row = bytes((x * 255 // width) for x in range(width) for _ in range(3))
    raw = b"".join(b"\x00" + row for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")


def test_a_photo_taken_in_the_form_reaches_the_server_once_with_its_visit(phone, live):
    page = phone.open()
    phone.log_in(*ENUMERATOR)
    phone.wait_synced()
    phone.offline(True)
    new_visit(phone)
    photo = page.locator('[data-field="house_photo"]')
    picture = png(2400, 1600)
    photo.locator("input[type=file]").set_input_files(
        files=[{"name": "IMG_2041.png", "mimeType": "image/png", "buffer": picture}])
    expect(photo.locator(".rf-photo-status")).to_contain_text("Đã lưu ảnh trên máy")
    expect(photo.locator(".rf-photo-thumb")).to_be_visible()
    phone.shot("field-photo-393")
    # Stored on the phone once, encrypted (its type is inside the ciphertext).
    files = phone.raw_records()["files"]
    assert len(files) == 1 and set(files[0]) == {"key", "user", "iv", "data"}
    fill_household(page, household("Bùi Văn Khoa", "MT-0601", ["head_m40", "spouse_f38"], area_type="urban"))
    finish(phone)
    entry = outbox(phone)[0]
    ref = entry["item"]["answers"]["house_photo"]
    sha256 = ref.removeprefix("sha256:")
    assert len(sha256) == 64
    [listed] = entry["item"]["attachments"]
    assert listed["sha256"] == sha256 and listed["name"] == "house_photo"
    # Compressed on the phone: a JPEG far smaller than the camera's picture.
    assert 0 < listed["size"] < len(picture) // 4

    phone.requested.clear()
    phone.offline(False)
    phone.sync_now()
    expect(page.locator("[data-testid=results] > li[data-status=accepted]")).to_have_count(1)
    pushes = [i for i, url in enumerate(phone.requested) if url.endswith("/api/v1/sync/push")]
    uploads = [i for i, url in enumerate(phone.requested) if url.endswith(f"/api/v1/attachments/{sha256}")]
    # The order of docs/sync.md: the push says what the server misses, then the file goes, once.
    assert len(pushes) == 1 and len(uploads) == 1 and pushes[0] < uploads[0], phone.requested
    assert outbox(phone)[0]["missing_attachments"] == []
    page.locator(".bar-back").click()
    phone.tab("sent")
    expect(page.get_by_test_id("sent")).not_to_contain_text("ảnh chờ gửi")

    supervisor = api_token(live, *SUPERVISOR)
    stored = api(live, supervisor, "GET", f"/api/v1/submissions/{entry['id']}").json()
    assert stored["complete"] is True and stored["missing_attachments"] == []
    assert stored["answers"]["house_photo"] == ref
    download = api(live, supervisor, "GET", f"/api/v1/attachments/{sha256}")
    assert download.status == 200 and download.headers["content-type"] == "image/jpeg"
    assert hashlib.sha256(download.body).hexdigest() == sha256 and download.body[:2] == b"\xff\xd8"
    assert len(download.body) == listed["size"]

    # Everything sent again (an answer lost on the way): nothing new uploaded, still one file.
    page.evaluate("""async () => {
        const { visits, vault } = window.rasoatApp.session;
        for (const e of await visits.outbox()) { e.status = 'pending'; await vault.put('outbox', e.id, e); }
    }""")
    phone.requested.clear()
    phone.sync_now()
    expect(page.locator("[data-testid=results] > li[data-status=duplicate]")).to_have_count(1)
    assert not [url for url in phone.requested if "/api/v1/attachments/" in url]
    assert rows(live, "attachments", "sha256", sha256) == 1
    assert rows(live, "attachment_uploads", "sha256", sha256) == 1
    assert rows(live, "submission_attachments", "sha256", sha256) == 1
    assert phone.violations() == []
    assert phone.foreign_requests() == []
    assert phone.errors == []


def test_a_visit_waiting_to_be_sent_can_be_edited_and_a_sent_one_cannot(phone, live):
    page = phone.open()
    phone.log_in(*ENUMERATOR)
    phone.wait_synced()
    phone.offline(True)
    answers = household("Đinh Văn Sơn", "MT-0701", ["head_m40", "spouse_f38"], area_type="urban")
    new_visit(phone)
    fill_household(page, answers)
    finish(phone)
    queued = outbox(phone)[0]
    assert queued["status"] == "pending" and queued["item"]["answers"]["floor_area"] == 60

    # "Chờ gửi" → the visit → "Sửa lại": the form opens with what was typed, and the visit has
    # left the outbox for the drafts with the same ids.
    phone.tab("pending")
    page.get_by_test_id("pending").click()
    expect(page.get_by_test_id("pending-detail")).to_contain_text("Đinh Văn Sơn")
    phone.shot("field-pending-detail-393")
    page.get_by_test_id("pending-edit").click()
    expect(page.get_by_label("Họ và tên chủ hộ")).to_have_value("Đinh Văn Sơn")
    assert outbox(phone) == []
    [draft] = page.evaluate("window.rasoatApp.session.visits.drafts()")
    assert (draft["id"], draft["household_id"], draft["rev"]) == (
        queued["id"], queued["item"]["household_id"], queued["item"]["rev"])
    fill_household(page, {**answers, "floor_area": 35})
    finish(phone)
    [again] = outbox(phone)
    assert again["id"] == queued["id"] and again["item"]["rev"] == 1
    assert again["item"]["household_id"] == queued["item"]["household_id"]
    assert again["item"]["answers"]["floor_area"] == 35

    # The detail is open when the network comes back and the sync sends the visit: "Sửa lại"
    # then says it has gone, and nothing leaves the sent list.
    phone.tab("pending")
    page.get_by_test_id("pending").click()
    expect(page.get_by_test_id("pending-edit")).to_be_visible()
    phone.offline(False)
    page.evaluate("window.rasoatApp.session.engine.run()")
    page.wait_for_function("async () => (await window.rasoatApp.session.visits.outbox())"
                           ".every((e) => e.status === 'sent')")
    page.get_by_test_id("pending-edit").click()
    expect(page.get_by_role("status")).to_contain_text("không sửa được nữa")
    expect(page.locator("nav.tabs [data-tab=sent]")).to_have_class("tab active")
    phone.shot("field-pending-already-sent-393")
    assert page.evaluate("window.rasoatApp.session.visits.drafts()") == []
    assert [e["status"] for e in outbox(phone)] == ["sent"]
    # A sent visit opens no form, and cannot be taken back out of the outbox.
    page.get_by_test_id("sent").click()
    expect(page.locator(".rf-title")).to_have_count(0)
    assert page.evaluate(f"window.rasoatApp.session.visits.unqueue({again['id']!r})") is None
    assert [e["status"] for e in outbox(phone)] == ["sent"]

    supervisor = api_token(live, *SUPERVISOR)
    stored = api(live, supervisor, "GET", f"/api/v1/submissions/{queued['id']}").json()
    assert stored["rev"] == 1 and stored["answers"]["floor_area"] == 35  # the edit, sent once
    assert rows(live, "submissions", "household_id", uuid.UUID(queued["item"]["household_id"])) == 1
    assert phone.violations() == []
    assert phone.errors == []
