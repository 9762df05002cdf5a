"""Nobody sees outside their areas: village vs village, commune vs commune, province vs province.

Plus unit tests of ``server.scoping.Scope`` (prefix semantics, LIKE escaping).
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from support import COMMUNE_X, COMMUNE_Y, PROVINCE_HCM, PROVINCE_HN, VILLAGE_A, VILLAGE_B, VILLAGE_C, VILLAGE_D, problem

from server.db import db
from server.models import Area, User
from server.scoping import Scope, _escape_like, scope_of


def _codes(response) -> list[str]:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return [item["code"] for item in response.get_json()["items"]]


def _walk(client, path: str, headers: dict, key: str = "id") -> list:
    """Every item of a paginated list, following next_cursor."""
    items, cursor = [], None
    for _ in range(100):
        separator = "&" if "?" in path else "?"
        response = client.get(path + (f"{separator}cursor={cursor}" if cursor else ""), headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)[:500]
        body = response.get_json()
        items.extend(item[key] for item in body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("pagination did not end")


# --- enumerator: village A vs village B ------------------------------------------------------

@pytest.fixture()
def enumerator_a(accounts):
    return accounts.headers("enumerator", [VILLAGE_A])


def test_enumerator_lists_only_their_village_in_the_commune(client, enumerator_a):
    assert _codes(client.get(f"/api/v1/areas?parent={COMMUNE_X}", headers=enumerator_a)) == [VILLAGE_A]


def test_enumerator_navigates_down_only_through_their_ancestors(client, enumerator_a):
    assert _codes(client.get("/api/v1/areas", headers=enumerator_a)) == [PROVINCE_HN]
    assert _codes(client.get(f"/api/v1/areas?parent={PROVINCE_HN}", headers=enumerator_a)) == [COMMUNE_X]
    assert _codes(client.get(f"/api/v1/areas?parent={PROVINCE_HCM}", headers=enumerator_a)) == []
    assert _codes(client.get(f"/api/v1/areas?parent={COMMUNE_Y}", headers=enumerator_a)) == []
    assert _codes(client.get("/api/v1/areas?level=village", headers=enumerator_a)) == [VILLAGE_A]


def test_enumerator_search_finds_nothing_of_other_villages(client, enumerator_a, accounts):
    # "Thôn" names villages A, B and C; an accent-free query matches them all for a national admin.
    admin = accounts.headers("admin", [])
    assert {VILLAGE_A, VILLAGE_B, VILLAGE_C} <= set(_codes(client.get("/api/v1/areas?q=thon&level=village", headers=admin)))
    assert _codes(client.get("/api/v1/areas?q=thon", headers=enumerator_a)) == [VILLAGE_A]
    assert _codes(client.get("/api/v1/areas?q=Th%C3%B4n%20B", headers=enumerator_a)) == []
    assert _codes(client.get("/api/v1/areas?q=%E1%BA%A4p%20D", headers=enumerator_a)) == []  # "Ấp D"
    # A LIKE wildcard in the query is a literal, not "anything".
    assert _codes(client.get("/api/v1/areas?q=%25", headers=enumerator_a)) == []
    assert _codes(client.get("/api/v1/areas?q=_", headers=enumerator_a)) == []


def test_enumerator_cannot_list_devices_or_users(client, enumerator_a):
    problem(client.get("/api/v1/devices", headers=enumerator_a), 403, "auth.forbidden")
    problem(client.get("/api/v1/users", headers=enumerator_a), 403, "auth.forbidden")
    problem(client.post("/api/v1/devices/any-phone/revoke", headers=enumerator_a), 403, "auth.forbidden")


def test_me_shows_only_own_areas(client, enumerator_a):
    me = client.get("/api/v1/me", headers=enumerator_a)
    assert me.status_code == 200
    assert me.get_json()["areas"] == [VILLAGE_A]


# --- supervisor: commune X vs commune Y -------------------------------------------------------

@pytest.fixture()
def phones(accounts):
    """One enumerator with a phone in each of villages A, C (commune Y) and D (province 79)."""
    out = {}
    for village, phone in ((VILLAGE_A, "phone-in-a"), (VILLAGE_C, "phone-in-c"), (VILLAGE_D, "phone-in-d")):
        user = accounts.create("enumerator", [village])
        accounts.login(user.username, device_id=phone)
        out[village] = phone
    return out


def _device_ids(client, headers) -> set[str]:
    return set(_walk(client, "/api/v1/devices", headers))


def test_supervisor_sees_devices_of_their_commune_only(client, accounts, phones):
    supervisor_x = accounts.headers("supervisor", [COMMUNE_X])
    supervisor_y = accounts.headers("supervisor", [COMMUNE_Y])
    assert _device_ids(client, supervisor_x) == {"phone-in-a"}
    assert _device_ids(client, supervisor_y) == {"phone-in-c"}


def test_supervisor_cannot_revoke_a_device_of_another_commune(client, accounts, phones):
    supervisor_x = accounts.headers("supervisor", [COMMUNE_X])
    body = problem(client.post("/api/v1/devices/phone-in-c/revoke", headers=supervisor_x), 404, "request.not_found")
    assert "phone-in-c" not in body["detail"]
    # Nothing changed: the owner of phone C is still in.
    supervisor_y = accounts.headers("supervisor", [COMMUNE_Y])
    listed = client.get("/api/v1/devices", headers=supervisor_y).get_json()["items"]
    assert [(d["id"], d["revoked"]) for d in listed] == [("phone-in-c", False)]


def test_supervisor_sees_areas_of_their_commune_only(client, accounts):
    supervisor_x = accounts.headers("supervisor", [COMMUNE_X])
    assert _codes(client.get(f"/api/v1/areas?parent={COMMUNE_X}", headers=supervisor_x)) == [VILLAGE_A, VILLAGE_B]
    assert _codes(client.get(f"/api/v1/areas?parent={COMMUNE_Y}", headers=supervisor_x)) == []
    assert _codes(client.get(f"/api/v1/areas?parent={PROVINCE_HN}", headers=supervisor_x)) == [COMMUNE_X]
    assert _codes(client.get("/api/v1/areas?level=village", headers=supervisor_x)) == [VILLAGE_A, VILLAGE_B]
    assert _codes(client.get("/api/v1/areas?q=thon%20c", headers=supervisor_x)) == []


# --- provincial admin (areas ["01"]) vs province 79 -------------------------------------------

@pytest.fixture()
def provincial(accounts):
    return accounts.headers("admin", [PROVINCE_HN])


@pytest.fixture()
def people(accounts):
    return {
        "hn": accounts.create("supervisor", [COMMUNE_X]),
        "hcm": accounts.create("supervisor", [VILLAGE_D]),
    }


def test_provincial_admin_lists_only_users_of_their_province(client, provincial, people, accounts):
    national = accounts.headers("admin", [])
    listed = set(_walk(client, "/api/v1/users", provincial, key="username"))
    assert people["hn"].username in listed
    assert people["hcm"].username not in listed
    everyone = set(_walk(client, "/api/v1/users", national, key="username"))
    assert {people["hn"].username, people["hcm"].username} <= everyone


def test_provincial_admin_cannot_read_or_patch_a_user_outside(client, provincial, people):
    problem(client.get(f"/api/v1/users/{people['hcm'].id}", headers=provincial), 404, "request.not_found")
    problem(client.patch(f"/api/v1/users/{people['hcm'].id}", json={"active": False}, headers=provincial),
            404, "request.not_found")
    problem(client.patch(f"/api/v1/users/{people['hcm'].id}", json={"areas": [VILLAGE_A]}, headers=provincial),
            404, "request.not_found")
    ok = client.get(f"/api/v1/users/{people['hn'].id}", headers=provincial)
    assert ok.status_code == 200 and ok.get_json()["username"] == people["hn"].username


def test_provincial_admin_cannot_create_users_outside(client, provincial):
    body = problem(client.post("/api/v1/users", headers=provincial, json={
        "username": "ngoai-tinh", "password": "long enough password", "role": "enumerator", "areas": [VILLAGE_D]}),
        422, "request.invalid")
    assert body["errors"] == [{"path": "areas/0", "code": "outside_scope", "message": body["errors"][0]["message"]}]
    # The path names the offending item as sent, wherever it sits in the list.
    for areas, path in (([VILLAGE_A, VILLAGE_D], "areas/1"), ([VILLAGE_D, VILLAGE_A], "areas/0")):
        body = problem(client.post("/api/v1/users", headers=provincial, json={
            "username": "ngoai-tinh", "password": "long enough password", "role": "enumerator", "areas": areas}),
            422, "request.invalid")
        assert [(e["path"], e["code"]) for e in body["errors"]] == [(path, "outside_scope")]
    # No areas at all would make a user the provincial admin could not see again.
    body = problem(client.post("/api/v1/users", headers=provincial, json={
        "username": "khong-vung", "password": "long enough password", "role": "admin", "areas": []}),
        422, "request.invalid")
    assert [e["path"] for e in body["errors"]] == ["areas"]
    with client.application.app_context():
        assert db.session.execute(sa.select(User).where(User.username.in_(["ngoai-tinh", "khong-vung"]))).first() is None


def test_provincial_admin_cannot_move_a_user_outside(client, provincial, people):
    body = problem(client.patch(f"/api/v1/users/{people['hn'].id}", headers=provincial,
                                json={"areas": [VILLAGE_D]}), 422, "request.invalid")
    assert [(e["path"], e["code"]) for e in body["errors"]] == [("areas/0", "outside_scope")]
    after = client.get(f"/api/v1/users/{people['hn'].id}", headers=provincial).get_json()
    assert after["areas"] == [COMMUNE_X]


def test_provincial_admin_can_manage_users_inside(client, provincial, people):
    created = client.post("/api/v1/users", headers=provincial, json={
        "username": "trong-tinh", "password": "long enough password", "role": "enumerator", "areas": [VILLAGE_B]})
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["areas"] == [VILLAGE_B]
    moved = client.patch(f"/api/v1/users/{people['hn'].id}", headers=provincial, json={"areas": [COMMUNE_Y]})
    assert moved.status_code == 200 and moved.get_json()["areas"] == [COMMUNE_Y]


def test_provincial_admin_devices_and_revocation_stop_at_the_border(client, provincial, phones, accounts):
    assert _device_ids(client, provincial) == {"phone-in-a", "phone-in-c"}
    problem(client.post("/api/v1/devices/phone-in-d/revoke", headers=provincial), 404, "request.not_found")
    national = accounts.headers("admin", [])
    listed = {d["id"]: d["revoked"] for d in client.get("/api/v1/devices", headers=national).get_json()["items"]}
    assert listed == {"phone-in-a": False, "phone-in-c": False, "phone-in-d": False}


def test_provincial_admin_sees_only_their_province_in_the_tree(client, provincial):
    assert _codes(client.get("/api/v1/areas", headers=provincial)) == [PROVINCE_HN]
    assert _codes(client.get(f"/api/v1/areas?parent={PROVINCE_HCM}", headers=provincial)) == []
    assert _codes(client.get("/api/v1/areas?q=%E1%BA%A5p%20d", headers=provincial)) == []


def test_national_admin_sees_everything(client, accounts, phones, people):
    national = accounts.headers("admin", [])
    assert _device_ids(client, national) == {"phone-in-a", "phone-in-c", "phone-in-d"}
    assert VILLAGE_D in _codes(client.get("/api/v1/areas?parent=79-25747", headers=national))
    top = set(_walk(client, "/api/v1/areas", national, key="code"))
    assert {PROVINCE_HN, PROVINCE_HCM} <= top and len(top) > 30  # all provinces
    listed = set(_walk(client, "/api/v1/users", national, key="username"))
    assert {people["hn"].username, people["hcm"].username} <= listed
    assert client.get(f"/api/v1/users/{people['hcm'].id}", headers=national).status_code == 200


# --- Scope itself --------------------------------------------------------------------------------

def test_scope_is_a_prefix_on_whole_code_segments():
    scope = Scope(("01-0000",))
    assert not scope.covers("01-00004")
    assert not scope.covers("01-00004-a")
    assert scope.covers("01-0000")
    assert scope.covers("01-0000-x")
    assert not scope.covers("01")  # an ancestor is not inside

    province = Scope(("01",))
    assert province.covers("01-00004-a") and province.covers("01")
    assert not province.covers("010") and not province.covers("79-25747-d") and not province.covers("0")


def test_national_and_empty_scopes():
    assert Scope(None).is_national and Scope(None).covers("79-25747-d") and Scope(None).covers(None)
    nobody = Scope(())
    assert not nobody.is_national
    assert not nobody.covers("01") and not nobody.covers(None) and not nobody.covers("")
    assert Scope(("01",)).covers_all([VILLAGE_A, COMMUNE_Y])
    assert not Scope(("01",)).covers_all([VILLAGE_A, VILLAGE_D])
    assert Scope(None).covers_all([]) and Scope(()).covers_all([])


def test_ancestors_are_the_codes_above_the_roots():
    assert Scope((VILLAGE_A,)).ancestors() == {"01", "01-00004"}
    assert Scope((VILLAGE_A, VILLAGE_D)).ancestors() == {"01", "01-00004", "79", "79-25747"}
    assert Scope(("01",)).ancestors() == set()
    assert Scope(None).ancestors() == set()


def test_escape_like():
    assert _escape_like("a_b%c\\d") == "a\\_b\\%c\\\\d"
    assert _escape_like("01-00004") == "01-00004"


def _in_scope(roots) -> set[str]:
    return set(db.session.execute(sa.select(Area.code).where(Scope(roots).clause(Area.code))).scalars())


def test_scope_clause_agrees_with_covers(app, transaction):
    with app.app_context():
        db.session.add_all([
            Area(code="01-0000_", parent_code="01", level="commune", name="Wild", name_folded="wild"),
            Area(code="01-0000%", parent_code="01", level="commune", name="Wild", name_folded="wild"),
        ])
        db.session.flush()
        every = set(db.session.execute(sa.select(Area.code)).scalars())
        for roots in ((VILLAGE_A,), (COMMUNE_X,), ("01",), ("01-0000",), ("01-0000_",), ("01-0000%",), ("0%",),
                      ("_1",), (COMMUNE_X, VILLAGE_D), ()):
            expected = {code for code in every if Scope(roots).covers(code)}
            assert _in_scope(roots) == expected, roots
        # The wildcards are literal: "01-0000_" covers itself, not commune 01-00004 and its villages.
        assert _in_scope(("01-0000_",)) == {"01-0000_"}
        assert _in_scope(("0%",)) == set()
        assert _in_scope((COMMUNE_X,)) == {COMMUNE_X, VILLAGE_A, VILLAGE_B}
        assert _in_scope(()) == set()
        assert _in_scope(None) == every


def test_scope_of_a_user(app, transaction, accounts):
    with app.app_context():
        national = db.session.get(User, accounts.create("admin", []).id)
        assert scope_of(national).is_national
        provincial = db.session.get(User, accounts.create("admin", [PROVINCE_HN]).id)
        assert scope_of(provincial) == Scope((PROVINCE_HN,))
        # Only an admin without areas is national; anyone else without areas sees nothing.
        lonely = db.session.get(User, accounts.create("supervisor", [COMMUNE_X]).id)
        lonely.area_links = []
        assert scope_of(lonely) == Scope(())


def test_provincial_admin_cannot_change_a_user_who_also_works_elsewhere(client, accounts):
    hanoi_admin = accounts.headers("admin", [PROVINCE_HN])
    both = accounts.create("admin", [PROVINCE_HN, PROVINCE_HCM])
    supervisor = accounts.create("supervisor", [COMMUNE_X, VILLAGE_D])
    for user in (both, supervisor):
        assert client.get(f"/api/v1/users/{user.id}", headers=hanoi_admin).status_code == 200  # visible
        for change in ({"password": "a-new-password-1"}, {"active": False}, {"areas": [COMMUNE_X]}):
            problem(client.patch(f"/api/v1/users/{user.id}", json=change, headers=hanoi_admin), 403)
    accounts.login(both.username)  # the password did not change
    national = accounts.headers("admin")
    assert client.patch(f"/api/v1/users/{supervisor.id}", json={"areas": [COMMUNE_X]},
                        headers=national).status_code == 200
    assert client.patch(f"/api/v1/users/{supervisor.id}", json={"active": False},
                        headers=hanoi_admin).status_code == 200  # now entirely inside Hà Nội


def test_nul_in_a_village_csv_is_422(client, accounts):
    import io

    admin = accounts.headers("admin")
    data = "parent,code,name\n01-00004,z1,Th\x00ôn\n".encode()
    body = problem(client.post("/api/v1/areas/import", data={"file": (io.BytesIO(data), "v.csv")},
                               content_type="multipart/form-data", headers=admin), 422)
    assert body["errors"][0]["path"] == "file" and body["errors"][0]["code"] == "nul"


# --- reports and exports: each sees only its own households ------------------------------------

REPORTS = ("poverty", "deprivations", "ethnicity", "changes", "register")


@pytest.fixture()
def reviewed_everywhere(client, accounts):
    """One approved household in each of villages A (commune X), C (commune Y) and D (province 79)."""
    from support.households import household_answers, submission

    phone = accounts.headers("enumerator", [VILLAGE_A, VILLAGE_C, VILLAGE_D], device_id="scope-report-phone")
    reviewer = accounts.headers("supervisor", [COMMUNE_X, COMMUNE_Y, VILLAGE_D])
    items = {}
    for village in (VILLAGE_A, VILLAGE_C, VILLAGE_D):
        item = submission(village, answers=household_answers(household_code=f"HH-{village}"))
        pushed = client.post("/api/v1/sync/push", json={"device_id": "scope-report-phone", "submissions": [item]},
                             headers=phone)
        assert pushed.get_json()["results"][0]["status"] == "accepted"
        approved = client.post(f"/api/v1/submissions/{item['id']}/review", json={"action": "approve"},
                               headers={**reviewer, "If-Match": "*"})
        assert approved.status_code == 200
        items[village] = item
    return items


def _register_codes(client, headers, **params) -> list[str]:
    response = client.get("/api/v1/reports/register", headers=headers, query_string={"year": 2026, **params})
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return [row["household_code"] for row in response.get_json()["rows"]]


def _exported_keys(client, headers, **params) -> list[str]:
    import csv
    import io
    import zipfile

    response = client.get("/api/v1/forms/household-review/export", headers=headers, query_string=params)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    with zipfile.ZipFile(io.BytesIO(response.get_data())) as archive:
        rows = list(csv.reader(io.StringIO(archive.read("household-review.csv").decode("utf-8-sig"))))
    return [row[0] for row in rows[1:]]


def test_reports_and_exports_of_a_supervisor_hold_only_their_commune(client, accounts, reviewed_everywhere):
    for commune, village in ((COMMUNE_X, VILLAGE_A), (COMMUNE_Y, VILLAGE_C)):
        supervisor = accounts.headers("supervisor", [commune])
        poverty = client.get("/api/v1/reports/poverty", headers=supervisor, query_string={"year": 2026}).get_json()
        assert poverty["area"]["code"] == commune and poverty["total"]["households"] == 1
        assert _register_codes(client, supervisor) == [f"HH-{village}"]
        assert _exported_keys(client, supervisor) == [reviewed_everywhere[village]["id"]]
        # Another commune's village as a filter of the export: nothing, as in the queue.
        other = VILLAGE_C if village == VILLAGE_A else VILLAGE_A
        assert _exported_keys(client, supervisor, area=other) == []


@pytest.mark.parametrize("report", REPORTS)
def test_a_report_of_an_area_outside_scope_is_the_404_of_an_unknown_area(client, accounts, reviewed_everywhere,
                                                                          report):
    supervisor_x = accounts.headers("supervisor", [COMMUNE_X])
    hcm_admin = accounts.headers("admin", [PROVINCE_HCM])
    unknown = problem(client.get(f"/api/v1/reports/{report}", headers=supervisor_x,
                                 query_string={"year": 2026, "area": "01-99999"}), 404, "request.not_found")
    for headers, area in ((supervisor_x, COMMUNE_Y), (supervisor_x, VILLAGE_C), (supervisor_x, PROVINCE_HN),
                          (supervisor_x, VILLAGE_D), (hcm_admin, COMMUNE_X), (hcm_admin, PROVINCE_HN)):
        for fmt in ("json", "csv"):
            body = problem(client.get(f"/api/v1/reports/{report}", headers=headers,
                                      query_string={"year": 2026, "area": area, "format": fmt}), 404,
                           "request.not_found")
            assert body["detail"] == unknown["detail"] and area not in body["detail"]


def test_a_provincial_admin_reports_on_their_province_only(client, accounts, reviewed_everywhere):
    hcm_admin = accounts.headers("admin", [PROVINCE_HCM])
    poverty = client.get("/api/v1/reports/poverty", headers=hcm_admin, query_string={"year": 2026}).get_json()
    assert poverty["area"]["code"] == PROVINCE_HCM and poverty["total"]["households"] == 1
    assert _register_codes(client, hcm_admin) == [f"HH-{VILLAGE_D}"]
    assert _exported_keys(client, hcm_admin) == [reviewed_everywhere[VILLAGE_D]["id"]]
    both = accounts.headers("supervisor", [VILLAGE_A, VILLAGE_D])  # two areas: one row each
    rows = client.get("/api/v1/reports/poverty", headers=both, query_string={"year": 2026}).get_json()["rows"]
    assert [(r["area"], r["households"]) for r in rows] == [(VILLAGE_A, 1), (VILLAGE_D, 1)]
