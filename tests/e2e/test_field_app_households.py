"""Households collected on a phone and synced (issue 9, items 6-8), in chromium at a phone's size
against gunicorn, through the real app: the form renderer inside the shell, IndexedDB, the
service worker and the sync engine.

- Log in, download the forms, go offline, fill two households with members (one interrupted by a
  reload mid-form), reload again and find the work intact; back online, sync, and the server
  holds each household exactly once, also after the phone sends everything again.
- A supervisor requests changes: the phone shows the comment, the enumerator fixes and re-sends.
- A rejected item is explained in the enumerator's words and can be fixed and re-sent.
"""

from __future__ import annotations

import os
import uuid

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect
from support.field_app import ENUMERATOR, FORM_KEY, SUPERVISOR, Phone, api, api_token, fill_household, household
from support.live import LiveServer, fresh_database


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    with fresh_database(os.environ.get("TEST_DATABASE_URL"), tmp_path_factory.mktemp("field-households")) as url:
        server = LiveServer(url, workers=2, env={"RASOAT_DEMO": "1"})
        server.cli("init")
        server.cli("demo")
        with server:
            yield server


def stored_counts(live, submission_ids: list[str], household_ids: list[str]) -> tuple[dict, dict]:
    """How many rows the server's database holds per submission id and per household id."""
    engine = sa.create_engine(live.db_url)
    submissions = sa.table("submissions", sa.column("id", sa.Uuid), sa.column("household_id", sa.Uuid))
    households = sa.table("households", sa.column("id", sa.Uuid))
    try:
        with engine.connect() as conn:
            per_submission = {s: conn.execute(sa.select(sa.func.count()).select_from(submissions)
                                              .where(submissions.c.id == uuid.UUID(s))).scalar_one()
                              for s in submission_ids}
            per_household = {h: conn.execute(sa.select(sa.func.count()).select_from(households)
                                             .where(households.c.id == uuid.UUID(h))).scalar_one()
                             for h in household_ids}
    finally:
        engine.dispose()
    return per_submission, per_household


def new_visit(phone: Phone) -> None:
    page = phone.page
    page.get_by_role("button", name="+ Hộ mới").click()
    page.locator("select[name=form]").select_option(FORM_KEY)
    page.get_by_test_id("start-visit").click()
    expect(page.locator(".rf-title")).to_be_visible()


def finish(phone: Phone) -> None:
    page = phone.page
    page.get_by_test_id("form-finish").click()
    expect(page.locator("nav.tabs")).to_be_visible()
    expect(page.locator("nav.tabs [data-tab=pending]")).to_have_class("tab active")


def outbox(phone: Phone) -> list[dict]:
    return phone.page.evaluate("window.rasoatApp.session.visits.outbox()")


def test_offline_households_survive_reloads_and_are_stored_exactly_once(phone, live):
    page = phone.open()
    phone.log_in(*ENUMERATOR)
    phone.wait_synced()
    phone.offline(True)

    # Household 1, start to finish, offline.
    first = household("Nguyễn Văn Ánh", "MT-0101", ["head_m40", "spouse_f38", "son_10"], area_type="urban")
    new_visit(phone)
    fill_household(page, first)
    expect(page.get_by_test_id("result-class")).to_be_visible()
    phone.shot("field-result-393")
    finish(phone)
    assert phone.tab_count("pending") == 1

    # Household 2: the battery dies (a reload) after the first member.
    second = household("Đỗ Thị Hường", "MT-0102", ["head_m40", "daughter_12"], area_type="urban")
    second["members"][0].update(sex="female", relation="head")
    new_visit(phone)
    fill_household(page, second, stop_after_members=1)
    expect(page.get_by_test_id("saved")).to_contain_text("Đã lưu trên máy")
    # The browser drops the database connection (as it does to a tab in the background): the
    # next save opens it again.
    page.evaluate("import('/app/js/app/db.js').then((db) => db.dropConnection())")
    page.get_by_test_id("repeat-add").click()
    page.get_by_label("Họ và tên", exact=True).fill("Đỗ Văn Tạm")
    page.wait_for_function("() => import('/app/js/app/db.js').then((db) => db.stats.reopened >= 1)")
    page.get_by_test_id("repeat-remove").click()
    page.get_by_test_id("repeat-remove").click()
    expect(page.get_by_test_id("member-card")).to_have_count(1)
    phone.shot("field-form-member-393")
    page.reload()
    expect(page.get_by_role("heading", name="Mở khóa")).to_be_visible()
    phone.unlock()
    assert phone.tab_count("drafts") == 1
    phone.tab("drafts")
    # The search ignores diacritics: "huong" finds "Đỗ Thị Hường", "do thi" too.
    page.get_by_role("searchbox").fill("do thi huong")
    expect(page.get_by_test_id("draft")).to_have_count(1)
    phone.shot("field-drafts-search-393")
    page.get_by_test_id("draft").click()
    expect(page.locator(".rf-title")).to_be_visible()
    expect(page.get_by_label("Họ và tên chủ hộ")).to_have_value("Đỗ Thị Hường")
    fill_household(page, second)
    finish(phone)
    assert phone.tab_count("pending") == 2 and phone.tab_count("drafts") == 0

    # Another reload offline: everything is still there.
    page.reload()
    phone.unlock()
    assert phone.tab_count("pending") == 2
    phone.tab("pending")
    expect(page.get_by_test_id("pending")).to_have_count(2)
    phone.shot("field-pending-393")

    # Back online: one sync sends both.
    phone.offline(False)
    phone.sync_now()
    expect(page.get_by_test_id("pending-count")).to_have_text("0")
    expect(page.locator("[data-testid=results] > li[data-status=accepted]")).to_have_count(2)
    phone.shot("field-sync-393")
    page.locator(".bar-back").click()
    assert phone.tab_count("sent") == 2
    # The pull brought both households back as the village's records (for the next visit).
    assert phone.tab_count("assigned") == 2
    phone.tab("sent")
    expect(page.get_by_test_id("sent").first).to_contain_text("Chờ duyệt")
    phone.shot("field-sent-393")

    sent = outbox(phone)
    submission_ids = [e["id"] for e in sent]
    household_ids = [e["item"]["household_id"] for e in sent]
    assert stored_counts(live, submission_ids, household_ids) == ({s: 1 for s in submission_ids},
                                                                 {h: 1 for h in household_ids})
    # The answers the server kept are the ones typed, members included.
    token = api_token(live, *SUPERVISOR)
    stored = api(live, token, "GET", f"/api/v1/submissions/{submission_ids[0]}").json()
    by_name = {e["head_name"]: e for e in sent}
    assert stored["answers"]["head_name"] in by_name
    assert len(stored["answers"]["members"]) in (2, 3)

    # An answer lost on the way (the phone sends it all again): still exactly once.
    page.evaluate("""async () => {
        const { visits, vault } = window.rasoatApp.session;
        for (const e of await visits.outbox()) { e.status = 'pending'; await vault.put('outbox', e.id, e); }
    }""")
    phone.sync_now()
    expect(page.locator("[data-testid=results] > li[data-status=duplicate]")).to_have_count(2)
    assert stored_counts(live, submission_ids, household_ids) == ({s: 1 for s in submission_ids},
                                                                 {h: 1 for h in household_ids})
    assert phone.violations() == []
    assert phone.foreign_requests() == []
    assert phone.errors == []


def test_changes_requested_show_the_comment_and_the_fix_is_sent_as_the_next_revision(phone, live):
    page = phone.open()
    phone.log_in(*ENUMERATOR)
    phone.wait_synced()
    answers = household("Lê Văn Bình", "MT-0201", ["head_m40", "spouse_f38"], area_type="urban")
    new_visit(phone)
    fill_household(page, answers)
    finish(phone)
    phone.sync_now()
    expect(page.locator("[data-testid=results] > li[data-status=accepted]")).to_have_count(1)
    submission_id = outbox(phone)[0]["id"]

    token = api_token(live, *SUPERVISOR)
    read = api(live, token, "GET", f"/api/v1/submissions/{submission_id}")
    comment = "Diện tích nhà ở 60 m² có vẻ quá lớn, đề nghị đo lại."
    review = api(live, token, "POST", f"/api/v1/submissions/{submission_id}/review",
                 {"action": "request_changes", "comment": comment}, headers={"If-Match": read.headers["etag"]})
    assert review.status == 200, review.body

    phone.sync_now()
    page.locator(".bar-back").click()
    assert phone.tab_count("fix") == 1
    phone.tab("fix")
    expect(page.get_by_test_id("fix")).to_contain_text(comment)
    phone.shot("field-fix-tab-393")
    page.get_by_test_id("fix").click()
    expect(page.get_by_test_id("fix-banner")).to_contain_text(comment)
    phone.shot("field-fix-form-393")
    fill_household(page, {**answers, "floor_area": 38})
    finish(phone)
    phone.sync_now()
    expect(page.locator("[data-testid=results] > li[data-status=accepted]")).to_have_count(1)

    stored = api(live, token, "GET", f"/api/v1/submissions/{submission_id}").json()
    assert stored["rev"] == 2
    assert stored["review_state"] == "received"
    assert stored["answers"]["floor_area"] == 38
    page.locator(".bar-back").click()
    assert phone.tab_count("fix") == 0 and phone.tab_count("sent") == 1
    assert phone.violations() == []


def test_a_rejected_item_is_explained_and_can_be_fixed(phone, live):
    page = phone.open()
    phone.log_in(*ENUMERATOR)
    phone.wait_synced()
    phone.offline(True)
    # Ba Đình is a ward (urban); the enumerator taps "rural" by mistake.
    answers = household("Phạm Thị Cúc", "MT-0301", ["head_m40"], area_type="rural")
    answers["members"][0].update(sex="female")
    new_visit(phone)
    fill_household(page, answers)
    finish(phone)
    phone.offline(False)
    phone.sync_now()
    rejected = page.locator("[data-testid=results] > li[data-status=rejected]")
    expect(rejected).to_have_count(1)
    expect(rejected).to_contain_text("Khu vực")
    expect(rejected).to_contain_text("không khớp với thiết lập của xã")
    phone.shot("field-rejected-sync-393")
    page.locator(".bar-back").click()
    assert phone.tab_count("pending") == 0 and phone.tab_count("fix") == 1
    phone.tab("fix")
    page.get_by_test_id("fix").click()
    expect(page.get_by_test_id("fix-banner")).to_contain_text("Khu vực")
    phone.shot("field-rejected-form-393")
    fill_household(page, {**answers, "area_type": "urban"})
    finish(phone)
    phone.sync_now()
    expect(page.locator("[data-testid=results] > li[data-status=accepted]")).to_have_count(1)
    entry = outbox(phone)[0]
    assert entry["item"]["rev"] == 2
    token = api_token(live, *SUPERVISOR)
    stored = api(live, token, "GET", f"/api/v1/submissions/{entry['id']}").json()
    assert stored["answers"]["area_type"] == "urban"
    assert stored_counts(live, [entry["id"]], [entry["item"]["household_id"]]) == (
        {entry["id"]: 1}, {entry["item"]["household_id"]: 1})
    assert phone.violations() == []


def test_visits_are_stamped_with_the_servers_time_when_the_phones_clock_is_wrong(phone, live):
    """A cheap phone whose battery died starts again in 2021: the app keeps its offset from the
    server's `server_time`, and the visit carries the corrected time."""
    from datetime import datetime, timedelta, timezone

    phone.page.clock.set_system_time(datetime(2021, 3, 1, 3, 0, tzinfo=timezone.utc))
    page = phone.open()
    assert page.evaluate("new Date().getUTCFullYear()") == 2021
    phone.log_in(*ENUMERATOR)
    phone.wait_synced()
    offset_ms = page.evaluate("window.rasoatApp.session && import('/app/js/app/clock.js').then((c) => c.offset())")
    assert offset_ms > 365 * 24 * 3600 * 1000  # milliseconds: years behind
    phone.offline(True)
    new_visit(phone)
    fill_household(page, household("Vũ Văn Giang", "MT-0501", ["head_m40"], area_type="urban"))
    finish(phone)
    entry = outbox(phone)[0]
    stamped = datetime.fromisoformat(entry["item"]["finished_at"])
    now = datetime.now(timezone.utc)
    assert abs(stamped - now) < timedelta(minutes=10), (stamped, now)
    assert stamped.utcoffset() == timedelta(hours=7)  # written in Vietnam time
    phone.offline(False)
    phone.sync_now()
    expect(page.locator("[data-testid=results] > li[data-status=accepted]")).to_have_count(1)
    token = api_token(live, *SUPERVISOR)
    stored = api(live, token, "GET", f"/api/v1/submissions/{entry['id']}").json()
    assert abs(datetime.fromisoformat(stored["finished_at"].replace("Z", "+00:00")) - now) < timedelta(minutes=10)
