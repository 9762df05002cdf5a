"""The area tree: official provinces and communes, villages managed by admins."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata

import sqlalchemy as sa

from server.db import db
from server.errors import Problem, field_error, invalid
from server.models import Area, AreaSetting
from server.pagination import Page, paginate
from server.scoping import Scope
from server.services import audit
from server.text import fold, nfc

# Since the 2025 reorganisation (no districts). Older data needs areas with earlier periods.
OFFICIAL_SINCE = dt.date(2025, 7, 1)
VILLAGE_SUFFIX = re.compile(r"[a-z0-9]{1,16}")
AREA_CODE_MAX = 64
VILLAGE_NAME_MAX = 200  # the column's length
# A village name never starts like a spreadsheet formula (server/exports.py; tab and CR are
# control characters, refused anyway): refused at the door, so no tool that reads the names
# straight from the database or the API hands a formula to a spreadsheet.
NAME_REFUSED_FIRST = ("=", "+", "-", "@")
# A CSV import stops listing problems after this many, and takes at most this many villages.
IMPORT_MAX_ERRORS = 100
IMPORT_MAX_ROWS = 20_000


def _hidden_character(text: str) -> str | None:
    """The first character a name may not hold: control, format (zero-width, bidi overrides),
    surrogate, private-use or unassigned code points, and line or paragraph separators."""
    for ch in text:
        category = unicodedata.category(ch)
        if category[0] == "C" or category in ("Zl", "Zp"):
            return ch
    return None


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


def village_errors(parent_code: str, suffix: str, name: str, path: str = "") -> list[dict]:
    """What is wrong with a village's fields on their own (no database), for the single create
    and for every row of a CSV import alike; ``path`` prefixes the field names (``rows/7/``)."""
    errors = []
    if not parent_code.strip():
        errors.append(field_error(f"{path}parent", "required", "Give the commune's code, e.g. '01-00004'."))
    elif len(parent_code) > AREA_CODE_MAX or _hidden_character(parent_code) is not None:
        errors.append(field_error(f"{path}parent", "invalid", "Not a commune code (e.g. '01-00004')."))
    if not VILLAGE_SUFFIX.fullmatch(suffix.strip().lower()):
        errors.append(field_error(f"{path}code", "invalid", "1-16 lower-case letters or digits, e.g. 'v03'."))
    name = nfc(name).strip()
    hidden = _hidden_character(name)
    if not name:
        errors.append(field_error(f"{path}name", "required", "A village needs a name."))
    elif len(name) > VILLAGE_NAME_MAX:
        errors.append(field_error(f"{path}name", "too_long",
                                  f"At most {VILLAGE_NAME_MAX} characters (this one has {len(name)})."))
    elif hidden is not None:
        errors.append(field_error(f"{path}name", "invalid_character",
                                  f"The name holds an invisible or control character (U+{ord(hidden):04X})."))
    elif name.startswith(NAME_REFUSED_FIRST):
        errors.append(field_error(f"{path}name", "formula",
                                  f"A name may not start with {name[0]!r}: spreadsheets read it as a formula."))
    return errors


def _new_village(scope: Scope, parent_code: str, suffix: str, name: str, path: str) -> Area:
    errors = village_errors(parent_code, suffix, name, path)
    if errors:
        raise Problem("request.invalid", errors[0]["message"], errors=errors)
    parent_code = parent_code.strip()
    parent = db.session.get(Area, parent_code)
    if parent is None or parent.level != "commune":
        raise invalid(f"{path}parent", "unknown_commune", f"No commune with code {parent_code!r}.")
    if not scope.covers(parent_code):
        raise invalid(f"{path}parent", "outside_scope", f"Commune {parent_code!r} is outside your areas.")
    suffix = suffix.strip().lower()
    name = nfc(name).strip()
    code = f"{parent_code}-{suffix}"
    if db.session.get(Area, code) is not None:
        raise Problem("area.exists", f"Area {code!r} already exists.",
                      errors=[{"path": f"{path}code", "code": "exists", "message": "Already exists."}])
    # Folding can lengthen a name ('ß' -> 'ss'); the search column keeps what fits.
    area = Area(code=code, parent_code=parent_code, level="village", name=name,
                name_folded=fold(name)[:VILLAGE_NAME_MAX], valid_from=dt.date.today())
    db.session.add(area)
    db.session.flush()
    return area


def create_village(scope: Scope, *, parent: str, code: str, name: str) -> Area:
    area = _new_village(scope, parent, code, name, "")
    audit.record("area.create", target_type="area", target_id=area.code, area_code=area.code, name=area.name)
    db.session.commit()
    return area


def import_villages(scope: Scope, data: bytes) -> list[Area]:
    """CSV with columns ``parent,code,name`` (in any order); all rows or none.

    Every row is checked as the single create checks its fields; the 422 lists every row's
    problems (``rows/<n>/<column>``, ``n`` counting the header as row 1, as a spreadsheet shows
    it), up to ``IMPORT_MAX_ERRORS``. A file the csv module cannot read (a field over its
    128 KiB limit, say) is a 422 naming the row too."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise invalid("file", "encoding", f"The CSV must be UTF-8 (byte {exc.start} is not).") from exc
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise invalid("file", "nul", f"The CSV may not contain the NUL character (U+0000); line {line} does.")
    rows, errors = _read_village_rows(text)
    if errors:
        raise Problem("request.invalid", f"The CSV has problems; the first: {errors[0]['path']}: {errors[0]['message']}",
                      errors=errors)
    created = [_new_village(scope, parent, code, name, f"rows/{number}/") for number, parent, code, name in rows]
    audit.record("area.import", target_type="area", count=len(created), codes=[a.code for a in created][:200])
    db.session.commit()
    return created


def _read_village_rows(text: str) -> tuple[list[tuple[int, str, str, str]], list[dict]]:
    """The rows as (row number, parent, code, name) and every problem found in them."""
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[tuple[int, str, str, str]] = []
    errors: list[dict] = []
    number = 0  # rows read so far, the header included
    try:
        header = next(reader, None)
        number = 1
        if header is None or len(header) != 3 or set(header) != {"parent", "code", "name"}:
            raise invalid("file", "columns", "The CSV needs exactly the columns parent, code, name.")
        position = {column: i for i, column in enumerate(header)}
        for record in reader:
            number += 1
            if not record:
                continue  # a blank line
            if len(rows) >= IMPORT_MAX_ROWS:
                errors.append(field_error(f"rows/{number}", "too_many",
                                          f"At most {IMPORT_MAX_ROWS:,} villages per file; split it."))
                break
            if len(record) != 3:
                errors.append(field_error(f"rows/{number}", "columns",
                                          f"Expected 3 values (parent, code, name); this row has {len(record)}."))
            else:
                parent, code, name = (record[position[c]] for c in ("parent", "code", "name"))
                errors.extend(village_errors(parent, code, name, f"rows/{number}/"))
                rows.append((number, parent, code, name))
            if len(errors) >= IMPORT_MAX_ERRORS:
                errors = errors[:IMPORT_MAX_ERRORS]
                errors.append(field_error("file", "too_many_errors",
                                          f"Stopped after {IMPORT_MAX_ERRORS} problems (row {number})."))
                break
    except csv.Error as exc:
        # In the row being read: a field longer than csv.field_size_limit() (128 KiB unless a
        # process changes it, which this one does not), a quote out of place.
        if "field larger than field limit" in str(exc):
            errors.append(field_error(f"rows/{number + 1}", "too_long",
                                      f"A value in this row is longer than {csv.field_size_limit():,} characters."))
        else:
            errors.append(field_error(f"rows/{number + 1}", "unreadable", f"The CSV cannot be read here: {exc}."))
    return rows, errors


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


def area_type_periods(scope: Scope, code: str) -> list[AreaSetting]:
    """A commune's rural/urban periods, oldest first (the last one open-ended)."""
    area = db.session.get(Area, code)
    if area is None or not scope.covers(code):
        raise Problem("request.not_found", f"No area {code!r} in your areas.")
    return list(db.session.execute(sa.select(AreaSetting).where(AreaSetting.area_code == code)
                                   .order_by(AreaSetting.valid_from)).scalars())


def area_options(scope: Scope, levels: tuple[str, ...], limit: int) -> list[Area] | None:
    """The areas of ``levels`` within scope (not their ancestors), by code, for a page to offer;
    None when there are more than ``limit``."""
    rows = db.session.execute(sa.select(Area).where(Area.level.in_(levels), scope.clause(Area.code))
                              .order_by(Area.code).limit(limit + 1)).scalars().all()
    return None if len(rows) > limit else list(rows)
