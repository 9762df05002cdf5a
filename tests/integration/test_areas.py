"""Areas: villages, CSV import, rural/urban periods."""

from __future__ import annotations

import datetime as dt
import io

import sqlalchemy as sa
from support import problem

from server.db import db
from server.models import AreaSetting
from server.services.areas import area_type_on

COMMUNE = "01-00025"  # Phường Giảng Võ: no other test touches it


def periods(app):
    with app.app_context():
        return [(p.valid_from.isoformat(), p.valid_to.isoformat() if p.valid_to else None, p.area_type)
                for p in db.session.execute(sa.select(AreaSetting).where(AreaSetting.area_code == COMMUNE)
                                            .order_by(AreaSetting.valid_from)).scalars()]


def test_area_type_periods_never_overlap(client, app, accounts):
    admin = accounts.headers("admin")
    url = f"/api/v1/areas/{COMMUNE}/area-type"
    official = periods(app)[0]
    for area_type, since in (("rural", "2026-01-01"), ("urban", "2027-01-01"), ("rural", "2025-12-01")):
        assert client.put(url, json={"area_type": area_type, "valid_from": since}, headers=admin).status_code == 200
    assert periods(app) == [(official[0], "2025-12-01", official[2]), ("2025-12-01", None, "rural")]
    with app.app_context():
        assert area_type_on(f"{COMMUNE}-v1", dt.date(2027, 6, 1)) == "rural"
        assert area_type_on(COMMUNE, dt.date(2025, 8, 1)) == official[2]


def test_villages_are_created_and_imported_all_or_nothing(client, accounts):
    admin = accounts.headers("admin")
    created = client.post("/api/v1/areas", json={"parent": COMMUNE, "code": "t1", "name": "Tổ 1"}, headers=admin)
    assert created.status_code == 201 and created.get_json()["code"] == f"{COMMUNE}-t1"
    problem(client.post("/api/v1/areas", json={"parent": COMMUNE, "code": "t1", "name": "Tổ 1"}, headers=admin),
            409, "area.exists")
    csv = f"parent,code,name\n{COMMUNE},t2,Tổ 2\n{COMMUNE},t1,Trùng\n".encode()
    body = problem(client.post("/api/v1/areas/import", data={"file": (io.BytesIO(csv), "v.csv")},
                               content_type="multipart/form-data", headers=admin), 409)
    assert body["errors"][0]["path"] == "rows/3/code"
    children = client.get(f"/api/v1/areas?parent={COMMUNE}", headers=admin).get_json()["items"]
    assert [c["code"] for c in children] == [f"{COMMUNE}-t1"]  # t2 was not half-imported
