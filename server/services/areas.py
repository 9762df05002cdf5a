"""The area tree: official provinces and communes, villages managed by admins."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import sqlalchemy as sa

from server.db import db
from server.errors import Problem, invalid
from server.models import Area, AreaSetting
from server.pagination import Page, paginate
from server.scoping import Scope
from server.services import audit
from server.text import fold, nfc

# Since the 2025 reorganisation (no districts). Older data needs areas with earlier periods.
OFFICIAL_SINCE = dt.date(2025, 7, 1)
VILLAGE_SUFFIX = re.compile(r"^[a-z0-9]{1,16}$")


def commune_code(province: int, ward: int) -> str:
    return f"{province:02d}-{ward:05d}"


def seed_official_areas() -> int:
    """Insert the provinces and communes of ``vietnam-provinces`` that are missing. Idempotent."""
    from vietnam_provinces import Province, Ward

    existing = set(db.session.execute(sa.select(Area.code)).scalars())
    rows: list[dict] = []
    settings: list[dict] = []
    for province in Province.iter_all():
        code = f"{province.code.value:02d}"
        if code not in existing:
            rows.append(dict(code=code, parent_code=None, level="province", name=province.name,
                             name_folded=fold(province.name), official_code=code,
                             division_type=province.division_type.value, valid_from=OFFICIAL_SINCE))
    for ward in Ward.iter_all():
        code = commune_code(ward.province_code.value, ward.code.value)
        if code not in existing:
            rows.append(dict(code=code, parent_code=f"{ward.province_code.value:02d}", level="commune",
                             name=ward.name, name_folded=fold(ward.name),
                             official_code=f"{ward.code.value:05d}", division_type=ward.division_type.value,
                             valid_from=OFFICIAL_SINCE))
            # phường are urban; xã and đặc khu rural until an admin says otherwise.
            settings.append(dict(area_code=code, valid_from=OFFICIAL_SINCE, valid_to=None,
                                 area_type="urban" if ward.division_type.value == "phường" else "rural"))
    if rows:
        db.session.execute(sa.insert(Area), rows)
    if settings:
        db.session.execute(sa.insert(AreaSetting), settings)
    return len(rows)


def visible_areas_query(scope: Scope) -> sa.Select:
    """Areas within scope, plus their ancestors (to navigate the tree)."""
    query = sa.select(Area)
    if not scope.is_national:
        query = query.where(sa.or_(scope.clause(Area.code), Area.code.in_(scope.ancestors())))
    return query


def list_areas(scope: Scope, *, parent: str | None, level: str | None, q: str | None,
               cursor: str | None, limit: int) -> Page:
    query = visible_areas_query(scope)
    if parent:
        query = query.where(Area.parent_code == parent)
    elif not q and not level:
        query = query.where(Area.parent_code.is_(None))
    if level:
        query = query.where(Area.level == level)
    if q:
        query = query.where(Area.name_folded.contains(fold(q), autoescape=True))
    return paginate(query, key=Area.code, cursor=cursor, limit=limit, purpose="areas")


def commune_of(code: str) -> str:
    """The commune containing an area (or the area itself): codes are hierarchical."""
    return "-".join(code.split("-")[:2])


def area_type_on(code: str, on: dt.date) -> str | None:
    """'rural' or 'urban' for the commune containing ``code`` on date ``on``."""
    commune = commune_of(code)
    return db.session.execute(
        sa.select(AreaSetting.area_type).where(
            AreaSetting.area_code == commune, AreaSetting.valid_from <= on,
            sa.or_(AreaSetting.valid_to.is_(None), AreaSetting.valid_to > on),
        ).order_by(AreaSetting.valid_from.desc()).limit(1)
    ).scalar_one_or_none()


def _new_village(scope: Scope, parent_code: str, suffix: str, name: str, path: str) -> Area:
    parent = db.session.get(Area, parent_code)
    if parent is None or parent.level != "commune":
        raise invalid(f"{path}parent", "unknown_commune", f"No commune with code {parent_code!r}.")
    if not scope.covers(parent_code):
        raise invalid(f"{path}parent", "outside_scope", f"Commune {parent_code!r} is outside your areas.")
    suffix = suffix.strip().lower()
    if not VILLAGE_SUFFIX.match(suffix):
        raise invalid(f"{path}code", "invalid", "1-16 lower-case letters or digits, e.g. 'v03'.")
    name = nfc(name).strip()
    if not name:
        raise invalid(f"{path}name", "required", "A village needs a name.")
    code = f"{parent_code}-{suffix}"
    if db.session.get(Area, code) is not None:
        raise Problem("area.exists", f"Area {code!r} already exists.",
                      errors=[{"path": f"{path}code", "code": "exists", "message": "Already exists."}])
    area = Area(code=code, parent_code=parent_code, level="village", name=name, name_folded=fold(name),
                valid_from=dt.date.today())
    db.session.add(area)
    db.session.flush()
    return area


def create_village(scope: Scope, *, parent: str, code: str, name: str) -> Area:
    area = _new_village(scope, parent, code, name, "")
    audit.record("area.create", target_type="area", target_id=area.code, area_code=area.code, name=area.name)
    db.session.commit()
    return area


def import_villages(scope: Scope, data: bytes) -> list[Area]:
    """CSV with columns ``parent,code,name``; all rows or none."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise invalid("file", "encoding", "The CSV must be UTF-8.") from exc
    if "\x00" in text:
        raise invalid("file", "nul", "The CSV may not contain the NUL character (U+0000).")
    reader = csv.DictReader(io.StringIO(text))
    if set(reader.fieldnames or ()) != {"parent", "code", "name"}:
        raise invalid("file", "columns", "The CSV needs exactly the columns parent, code, name.")
    created = [
        _new_village(scope, row["parent"] or "", row["code"] or "", row["name"] or "", f"rows/{i + 2}/")
        for i, row in enumerate(reader)
    ]
    audit.record("area.import", target_type="area", count=len(created), codes=[a.code for a in created][:200])
    db.session.commit()
    return created


def set_area_type(scope: Scope, code: str, area_type: str, valid_from: dt.date) -> AreaSetting:
    area = db.session.get(Area, code)
    if area is None or not scope.covers(code):
        raise Problem("request.not_found", f"No area {code!r} in your areas.")
    if area.level != "commune":
        raise invalid("code", "not_commune", "Rural/urban is set per commune.")
    # Every period reaching past the new start is cut there (or dropped if it starts later),
    # so periods never overlap.
    current = db.session.execute(
        sa.select(AreaSetting).where(AreaSetting.area_code == code,
                                     sa.or_(AreaSetting.valid_to.is_(None), AreaSetting.valid_to > valid_from))
    ).scalars().all()
    for setting in current:
        if setting.valid_from >= valid_from:
            db.session.delete(setting)
        else:
            setting.valid_to = valid_from
    db.session.flush()
    setting = AreaSetting(area_code=code, valid_from=valid_from, valid_to=None, area_type=area_type)
    db.session.add(setting)
    audit.record("area.set_type", target_type="area", target_id=code, area_code=code,
                 area_type=area_type, valid_from=valid_from.isoformat())
    db.session.commit()
    return setting
