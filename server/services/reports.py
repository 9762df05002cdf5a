"""The year's official tables, from the submissions: poverty summary, deprivations per indicator,
ethnic-minority households, change over the year, and the household register.

What a report counts (its header says which, in every format):

* **approved** (the default, the official figures): for every household and review year, the
  household's latest *approved* submission of that year, latest by visit time (``finished_at``,
  else ``received_at``; ties: the larger submission id), the order in which the sync core gives
  a household's year row to its latest visit (``sync.core.takes_year_row``). A submission
  that a phone revised after approval is back under review (``received``), so it counts again
  once approved; a supervisor's correction keeps the approval and counts as corrected.
* **unreviewed** (``include=unreviewed``, a preview): the household's latest submission of the
  year whatever its review state (received, approved, rejected, changes requested).

Only forms that classify households count (a form whose ``outputs`` has ``classification``).
The latest submission is chosen among all of the household's submissions of the year, wherever
they are, *then* kept if it lies in the report's area and the caller's scope: a household that
moved from village A to village B during the season counts in B only.

Rates are percentages of the households *reviewed* (counted) in the row. The official rate of
poor households is over all resident households of the area (*tổng số hộ dân cư*), which the
server does not hold: the heading says which denominator it is.

Every query goes through ``Scope.clause`` on the submission's area; an area outside the scope is
the same 404 as an area that does not exist.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import orjson
import sqlalchemy as sa
from sqlalchemy.orm import aliased

from server.db import db
from server.errors import Problem
from server.exports import CsvStream, XlsxStream
from server.models import Area, FormVersion, Submission
from server.scoping import Scope
from server.services import audit
from server.services import forms as form_service
from sync.core import VIETNAM

REPORTS = ("poverty", "deprivations", "ethnicity", "changes", "register")
CLASSES = ("poor", "near_poor", "average", "not_poor")
LANGUAGES = ("vi", "en")
KINH = "01"  # GSO Decision 1019/QĐ-TCTK (2008) and the 1979 list alike: Kinh is 01, the other 53 groups are minorities
ETHNICITY_FIELD = "ethnicity"
# The twelve indicators of Decree 07/2021/NĐ-CP in their official order, then those of later
# standards; an indicator a form names that is not here comes last, labelled from the form.
INDICATOR_ORDER = ("employment", "dependents", "nutrition", "health_insurance", "adult_education",
                   "school_attendance", "housing_quality", "housing_area", "water", "latrine", "telecom",
                   "information_means", "waste_treatment")


# --- words (one catalogue per language; the official Vietnamese terms of docs/ui.md) ------------

TEXT: dict[str, dict[str, str]] = {
    "vi": {
        "counts.approved": "Số liệu chính thức: mỗi hộ tính theo phiếu rà soát ĐÃ DUYỆT mới nhất của năm {year} "
                           "(mới nhất theo thời điểm phỏng vấn)",
        "counts.unreviewed": "XEM TRƯỚC, CHƯA PHẢI SỐ LIỆU CHÍNH THỨC: mỗi hộ tính theo phiếu rà soát mới nhất của "
                             "năm {year}, ở mọi trạng thái duyệt (chờ duyệt, đã duyệt, từ chối, yêu cầu sửa)",
        "title.poverty": "TỔNG HỢP KẾT QUẢ RÀ SOÁT HỘ NGHÈO, HỘ CẬN NGHÈO, HỘ CÓ MỨC SỐNG TRUNG BÌNH NĂM {year}",
        "title.deprivations": "TỔNG HỢP HỘ NGHÈO, HỘ CẬN NGHÈO THEO CHỈ SỐ THIẾU HỤT DỊCH VỤ XÃ HỘI CƠ BẢN "
                              "NĂM {year}",
        "title.ethnicity": "TỔNG HỢP HỘ NGHÈO, HỘ CẬN NGHÈO LÀ HỘ DÂN TỘC THIỂU SỐ NĂM {year}",
        "title.changes": "DIỄN BIẾN HỘ NGHÈO, HỘ CẬN NGHÈO NĂM {year} (SO VỚI NĂM {previous})",
        "title.register": "DANH SÁCH HỘ GIA ĐÌNH ĐƯỢC RÀ SOÁT NĂM {year}",
        "area": "Địa bàn", "your_areas": "Các địa bàn được giao", "whole_country": "Toàn quốc",
        "generated": "Lập lúc", "unassigned": "{name} (hộ chưa gán thôn, tổ)",
        "total": "Tổng cộng",
        "col.area": "Mã địa bàn", "col.name": "Tên địa bàn",
        "col.households": "Tổng số hộ được rà soát",
        "col.poor": "Số hộ nghèo", "col.poor_rate": "Tỷ lệ hộ nghèo (% số hộ được rà soát)",
        "col.near_poor": "Số hộ cận nghèo", "col.near_poor_rate": "Tỷ lệ hộ cận nghèo (% số hộ được rà soát)",
        "col.average": "Số hộ có mức sống trung bình",
        "col.average_rate": "Tỷ lệ hộ có mức sống trung bình (% số hộ được rà soát)",
        "col.not_poor": "Số hộ không thuộc diện nghèo, cận nghèo, mức sống trung bình",
        "col.unclassified": "Số hộ chưa xác định được phân loại",
        "col.indicator": "Chỉ số thiếu hụt", "col.dimension": "Chiều thiếu hụt", "col.number": "STT",
        "col.poor_deprived": "Số hộ nghèo thiếu hụt",
        "col.poor_deprived_rate": "Tỷ lệ (% số hộ nghèo)",
        "col.near_poor_deprived": "Số hộ cận nghèo thiếu hụt",
        "col.near_poor_deprived_rate": "Tỷ lệ (% số hộ cận nghèo)",
        "row.households": "Tổng số hộ",
        "col.minority": "Trong đó hộ dân tộc thiểu số",
        "col.minority_rate": "Tỷ lệ hộ dân tộc thiểu số (% số hộ được rà soát)",
        "col.ethnicity_unknown": "Số hộ chưa ghi dân tộc",
        "col.minority_poor": "Số hộ nghèo dân tộc thiểu số",
        "col.minority_poor_share": "Tỷ lệ (% số hộ nghèo)",
        "col.minority_poor_rate": "Tỷ lệ hộ nghèo trong số hộ dân tộc thiểu số (%)",
        "col.minority_near_poor": "Số hộ cận nghèo dân tộc thiểu số",
        "col.minority_near_poor_share": "Tỷ lệ (% số hộ cận nghèo)",
        "col.minority_near_poor_rate": "Tỷ lệ hộ cận nghèo trong số hộ dân tộc thiểu số (%)",
        "col.poor_start": "Số hộ nghèo đầu năm (năm {previous})",
        "col.poor_left": "Số hộ thoát nghèo",
        "col.poor_entered": "Số hộ nghèo phát sinh",
        "col.poor_entered_new": "Trong đó: hộ chưa có trong kết quả năm {previous}",
        "col.poor_not_reviewed": "Số hộ nghèo năm {previous} chưa được tính trong năm {year}",
        "col.poor_end": "Số hộ nghèo cuối năm (năm {year})",
        "col.near_poor_start": "Số hộ cận nghèo đầu năm (năm {previous})",
        "col.near_poor_left": "Số hộ thoát cận nghèo",
        "col.near_poor_entered": "Số hộ cận nghèo phát sinh",
        "col.near_poor_entered_new": "Trong đó: hộ chưa có trong kết quả năm {previous}",
        "col.near_poor_not_reviewed": "Số hộ cận nghèo năm {previous} chưa được tính trong năm {year}",
        "col.near_poor_end": "Số hộ cận nghèo cuối năm (năm {year})",
        "col.household_code": "Mã hộ", "col.head_name": "Họ và tên chủ hộ", "col.ethnicity": "Dân tộc của chủ hộ",
        "col.ethnic_minority": "Hộ dân tộc thiểu số", "col.village": "Mã thôn, tổ", "col.village_name": "Thôn, tổ",
        "col.member_count": "Số nhân khẩu", "col.classification": "Phân loại hộ",
        "col.income_per_person": "Thu nhập bình quân đầu người/tháng (đồng)",
        "col.deprivation_count": "Tổng số chỉ số thiếu hụt", "col.deprived": "Thiếu hụt: {label}",
        "col.visit_date": "Ngày rà soát", "col.review_state": "Trạng thái duyệt",
        "col.household_id": "Mã định danh hộ trên hệ thống", "col.submission_id": "Mã phiếu",
        "yes": "Có", "no": "Không",
        "class.poor": "Hộ nghèo", "class.near_poor": "Hộ cận nghèo",
        "class.average": "Hộ có mức sống trung bình", "class.not_poor": "Không thuộc diện nghèo, cận nghèo",
        "state.received": "Chờ duyệt", "state.approved": "Đã duyệt", "state.rejected": "Từ chối",
        "state.changes_requested": "Yêu cầu sửa",
        "dimension.employment": "Việc làm", "dimension.health": "Y tế", "dimension.education": "Giáo dục",
        "dimension.housing": "Nhà ở", "dimension.water_sanitation": "Nước sinh hoạt và vệ sinh",
        "dimension.information": "Thông tin",
        "indicator.employment": "Việc làm", "indicator.dependents": "Người phụ thuộc trong hộ gia đình",
        "indicator.nutrition": "Dinh dưỡng", "indicator.health_insurance": "Bảo hiểm y tế",
        "indicator.adult_education": "Trình độ giáo dục của người lớn",
        "indicator.school_attendance": "Tình trạng đi học của trẻ em",
        "indicator.housing_quality": "Chất lượng nhà ở",
        "indicator.housing_area": "Diện tích nhà ở bình quân đầu người",
        "indicator.water": "Nguồn nước sinh hoạt", "indicator.latrine": "Nhà tiêu hợp vệ sinh",
        "indicator.telecom": "Sử dụng dịch vụ viễn thông",
        "indicator.information_means": "Phương tiện phục vụ tiếp cận thông tin",
    },
    "en": {
        "counts.approved": "Official figures: each household counted by its latest APPROVED review submission of "
                           "{year} (latest by visit time)",
        "counts.unreviewed": "PREVIEW, NOT THE OFFICIAL FIGURES: each household counted by its latest review "
                             "submission of {year}, whatever its review state (received, approved, rejected, changes "
                             "requested)",
        "title.poverty": "Poor, near-poor and average living standard households, review of {year}",
        "title.deprivations": "Poor and near-poor households by deprivation of basic social services, review of {year}",
        "title.ethnicity": "Ethnic-minority poor and near-poor households, review of {year}",
        "title.changes": "Change in poor and near-poor households, {year} against {previous}",
        "title.register": "Register of the households reviewed in {year}",
        "area": "Area", "your_areas": "Your areas", "whole_country": "Whole country",
        "generated": "Generated", "unassigned": "{name} (households in no village)",
        "total": "Total",
        "col.area": "Area code", "col.name": "Area name",
        "col.households": "Households reviewed",
        "col.poor": "Poor households", "col.poor_rate": "Poor (% of households reviewed)",
        "col.near_poor": "Near-poor households", "col.near_poor_rate": "Near-poor (% of households reviewed)",
        "col.average": "Average living standard households",
        "col.average_rate": "Average living standard (% of households reviewed)",
        "col.not_poor": "Households above the average living standard",
        "col.unclassified": "Households without a classification",
        "col.indicator": "Deprivation indicator", "col.dimension": "Dimension", "col.number": "No.",
        "col.poor_deprived": "Poor households deprived",
        "col.poor_deprived_rate": "% of poor households",
        "col.near_poor_deprived": "Near-poor households deprived",
        "col.near_poor_deprived_rate": "% of near-poor households",
        "row.households": "Households",
        "col.minority": "Of which ethnic-minority households",
        "col.minority_rate": "Ethnic-minority households (% of households reviewed)",
        "col.ethnicity_unknown": "Households with no ethnicity recorded",
        "col.minority_poor": "Ethnic-minority poor households",
        "col.minority_poor_share": "% of poor households",
        "col.minority_poor_rate": "Poverty rate among ethnic-minority households (%)",
        "col.minority_near_poor": "Ethnic-minority near-poor households",
        "col.minority_near_poor_share": "% of near-poor households",
        "col.minority_near_poor_rate": "Near-poverty rate among ethnic-minority households (%)",
        "col.poor_start": "Poor at the start of the year ({previous})",
        "col.poor_left": "Left poverty",
        "col.poor_entered": "Entered poverty",
        "col.poor_entered_new": "Of which: not in the {previous} results",
        "col.poor_not_reviewed": "Poor in {previous}, not counted in {year}",
        "col.poor_end": "Poor at the end of the year ({year})",
        "col.near_poor_start": "Near-poor at the start of the year ({previous})",
        "col.near_poor_left": "Left near-poverty",
        "col.near_poor_entered": "Entered near-poverty",
        "col.near_poor_entered_new": "Of which: not in the {previous} results",
        "col.near_poor_not_reviewed": "Near-poor in {previous}, not counted in {year}",
        "col.near_poor_end": "Near-poor at the end of the year ({year})",
        "col.household_code": "Household code", "col.head_name": "Head of household",
        "col.ethnicity": "Head's ethnicity", "col.ethnic_minority": "Ethnic-minority household",
        "col.village": "Village code", "col.village_name": "Village",
        "col.member_count": "Members", "col.classification": "Classification",
        "col.income_per_person": "Income per person per month (VND)",
        "col.deprivation_count": "Deprivations", "col.deprived": "Deprived: {label}",
        "col.visit_date": "Visit date", "col.review_state": "Review state",
        "col.household_id": "Household id", "col.submission_id": "Submission id",
        "yes": "Yes", "no": "No",
        "class.poor": "Poor", "class.near_poor": "Near-poor", "class.average": "Average living standard",
        "class.not_poor": "Not poor",
        "state.received": "Received", "state.approved": "Approved", "state.rejected": "Rejected",
        "state.changes_requested": "Changes requested",
        "dimension.employment": "Employment", "dimension.health": "Health", "dimension.education": "Education",
        "dimension.housing": "Housing", "dimension.water_sanitation": "Water and sanitation",
        "dimension.information": "Information",
        "indicator.employment": "Employment", "indicator.dependents": "Dependents in the household",
        "indicator.nutrition": "Nutrition", "indicator.health_insurance": "Health insurance",
        "indicator.adult_education": "Adult education", "indicator.school_attendance": "Children's school attendance",
        "indicator.housing_quality": "Housing quality", "indicator.housing_area": "Floor area per person",
        "indicator.water": "Domestic water", "indicator.latrine": "Hygienic latrine",
        "indicator.telecom": "Use of telecommunication services",
        "indicator.information_means": "Means of access to information",
    },
}
DIMENSION_OF = {"employment": "employment", "dependents": "employment", "nutrition": "health",
                "health_insurance": "health", "adult_education": "education", "school_attendance": "education",
                "housing_quality": "housing", "housing_area": "housing", "water": "water_sanitation",
                "latrine": "water_sanitation", "waste_treatment": "water_sanitation", "telecom": "information",
                "information_means": "information"}


def _t(lang: str, key: str, **values: Any) -> str:
    return TEXT[lang][key].format(**values)


# --- the report's shape ---------------------------------------------------------------------------

@dataclass
class Report:
    """A table with its heading: what every format renders (JSON, CSV, XLSX)."""

    name: str
    lang: str
    year: int
    unreviewed: bool
    area: dict | None  # {"code", "name", "level"}, or None for "your areas" / the whole country
    area_label: str
    title: str
    columns: list[tuple[str, str]]  # (key, heading)
    rows: Iterator[dict] | list[dict]
    total: dict | None = None
    extra: dict = field(default_factory=dict)
    generated_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(VIETNAM))

    @property
    def counts(self) -> str:
        return "unreviewed" if self.unreviewed else "approved"

    @property
    def counting(self) -> str:
        return _t(self.lang, f"counts.{self.counts}", year=self.year)

    def header(self) -> dict:
        return {"report": self.name, "year": self.year, "counts": self.counts, "counting": self.counting,
                "official": not self.unreviewed, "title": self.title, "area": self.area,
                "area_label": self.area_label, "language": self.lang, "generated_at": self.generated_at,
                "columns": [{"key": k, "label": label} for k, label in self.columns], **self.extra}

    def heading_lines(self) -> list[list[Any]]:
        """The lines above the table in CSV and XLSX: which submissions it counts first."""
        return [[self.counting], [self.title],
                [f"{_t(self.lang, 'area')}: {self.area_label}"],
                [f"{_t(self.lang, 'generated')}: {self.generated_at.strftime('%d/%m/%Y %H:%M')} (UTC+7)"], []]

    def table_lines(self) -> Iterator[list[Any]]:
        keys = [k for k, _ in self.columns]
        yield [label for _, label in self.columns]
        for row in self.rows:
            yield [row.get(k) for k in keys]
        if self.total is not None:
            yield [self.total.get(k) for k in keys]


# --- what counts ------------------------------------------------------------------------------------

def _versions() -> dict[tuple[str, str], Mapping]:
    """(form_id, version) -> the form's outputs, for every version that was ever published."""
    rows = db.session.execute(sa.select(FormVersion).where(FormVersion.state != "draft")).scalars()
    return {(r.form_id, r.version): form_service.definition_of(r).outputs for r in rows}


def _classifying_forms(versions: Mapping[tuple[str, str], Mapping]) -> list[str]:
    return sorted({form_id for (form_id, _), outputs in versions.items() if "classification" in outputs})


def _like_prefix(code: str) -> str:
    return code.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def uuid_text(column, dialect: str) -> sa.ColumnElement[str]:
    """A UUID column as its usual text (``str(uuid)``), spelled by the database."""
    if dialect == "postgresql":
        return sa.cast(column, sa.Text)
    # SQLite keeps a UUID as 32 hexadecimal digits.
    parts = [sa.func.substr(column, start, length) for start, length in ((1, 8), (9, 4), (13, 4), (17, 4), (21, 12))]
    return sa.func.lower(parts[0] + "-" + parts[1] + "-" + parts[2] + "-" + parts[3] + "-" + parts[4])


def time_text(column, dialect: str, form: str = "iso") -> sa.ColumnElement[str]:
    """A UTC timestamp column in Vietnam time (UTC+7 all year: no daylight saving), spelled by the
    database: ``iso`` 2026-10-02T08:40:12+07:00, ``date`` 02/10/2026 (the Vietnamese way)."""
    if dialect == "postgresql":
        pattern = 'YYYY-MM-DD"T"HH24:MI:SS"+07:00"' if form == "iso" else "DD/MM/YYYY"
        return sa.func.to_char(column + sa.text("interval '7 hours'"), pattern)
    pattern = "%Y-%m-%dT%H:%M:%S+07:00" if form == "iso" else "%d/%m/%Y"
    return sa.func.strftime(pattern, column, "+7 hours")


def _visit(s) -> sa.ColumnElement:
    return sa.func.coalesce(s.finished_at, s.received_at)


@dataclass(frozen=True)
class _Counting:
    """What a report counts: the rule, the forms, and the areas it is bounded by (the report's area,
    else the caller's areas; None: everywhere) within the caller's scope."""

    scope: Scope
    areas: tuple[str, ...] | None
    unreviewed: bool
    forms: tuple[str, ...]

    def within(self, column: sa.ColumnElement[str]) -> list[sa.ColumnElement[bool]]:
        clauses = [self.scope.clause(column)]
        if self.areas is not None:
            # The prefix LIKE is what PostgreSQL ranges an index scan with (ix_submissions_counting,
            # varchar_pattern_ops); the scope clause then keeps exactly the area and what is below it.
            clauses.append(sa.or_(*(column.like(_like_prefix(a), escape="\\") for a in self.areas)))
            clauses.append(Scope(self.areas).clause(column))
        return clauses

    def clauses(self, year: int) -> list[sa.ColumnElement[bool]]:
        """WHERE clauses on ``Submission`` keeping the submission each household counts by in
        ``year``: its latest (approved) one of the year anywhere, if that lies within the areas."""
        s, later = Submission, aliased(Submission)
        same = [later.household_id == s.household_id, later.year == year, later.form_id.in_(self.forms)]
        mine = [s.year == year, s.form_id.in_(self.forms), *self.within(s.area_code)]
        if not self.unreviewed:
            same.append(later.review_state == "approved")
            mine.append(s.review_state == "approved")
        newer = sa.select(sa.literal(1)).where(
            *same, sa.tuple_(_visit(later), later.id) > sa.tuple_(_visit(s), s.id))
        return [*mine, ~sa.exists(newer)]


@dataclass
class _JsonKeys:
    """Top-level keys of a JSON column as text columns. On PostgreSQL one ``jsonb_to_record`` per
    row, joined to the submission (the document is decompressed once, not once per key: that was
    most of the register's time); elsewhere ``json_extract`` per key."""

    record: Any  # the table-valued function to join, or None
    columns: dict[str, sa.ColumnElement]

    def join(self, query: sa.Select) -> sa.Select:
        return query if self.record is None else query.join(self.record, sa.true())


def _json_keys(column, keys: Sequence[str], alias: str) -> _JsonKeys:
    keys = list(dict.fromkeys(keys))
    if keys and db.session.get_bind().dialect.name == "postgresql":
        record = (sa.func.jsonb_to_record(column).table_valued(*[sa.column(k, sa.Text) for k in keys], name=alias)
                  .render_derived(with_types=True))
        return _JsonKeys(record, {k: record.c[k] for k in keys})
    return _JsonKeys(None, {k: column[k].as_string() for k in keys})


def _deprived(value: sa.ColumnElement) -> sa.ColumnElement[int]:
    """1 when a flag's JSON value (as text) is 1 or true, else 0."""
    return sa.case((sa.cast(value, sa.Text).in_(("1", "1.0", "true")), 1), else_=0)


# --- areas ----------------------------------------------------------------------------------------

@dataclass
class _Rows:
    """The report's rows: the children of its area (or the caller's areas), each area code of a
    submission mapped to the row it counts in."""

    area: dict | None
    label: str
    rows: list[dict]  # {"area", "name"}
    _index: dict[str, str] = field(default_factory=dict)
    unassigned: str | None = None  # the area itself, for households placed directly in it

    def row_of(self, code: str) -> str | None:
        parts = code.split("-")
        for depth in range(len(parts), 0, -1):
            found = self._index.get("-".join(parts[:depth]))
            if found is not None:
                return found
        return None


def _rows_for(scope: Scope, code: str | None, lang: str) -> _Rows:
    if code is not None:
        area = db.session.get(Area, code)
        if area is None or not scope.covers(code):
            raise Problem("request.not_found", "No such area in your areas.")
        children = db.session.execute(sa.select(Area.code, Area.name).where(Area.parent_code == code)
                                      .order_by(Area.code)).all()
        head = {"code": area.code, "name": area.name, "level": area.level}
        label = f"{area.name} ({area.code})"
        if not children:  # a village: one row, itself
            out = _Rows(head, label, [{"area": area.code, "name": area.name}])
            out._index[area.code] = area.code
            return out
        out = _Rows(head, label, [{"area": c.code, "name": c.name} for c in children])
        out._index = {c.code: c.code for c in children}
        out.unassigned = area.code
        out._index[area.code] = area.code
        return out
    if scope.is_national:
        provinces = db.session.execute(sa.select(Area.code, Area.name).where(Area.parent_code.is_(None))
                                       .order_by(Area.code)).all()
        out = _Rows(None, _t(lang, "whole_country"), [{"area": p.code, "name": p.name} for p in provinces])
        out._index = {p.code: p.code for p in provinces}
        return out
    if len(scope.roots) == 1:
        return _rows_for(scope, scope.roots[0], lang)
    names = dict(db.session.execute(sa.select(Area.code, Area.name).where(Area.code.in_(scope.roots))).all())
    out = _Rows(None, _t(lang, "your_areas"), [{"area": r, "name": names.get(r, r)} for r in scope.roots])
    out._index = {r: r for r in scope.roots}
    return out


def _with_unassigned(rows: _Rows, counted_codes: set[str], lang: str) -> list[dict]:
    """The rows, plus one for households placed in the area itself (not in a village) if any."""
    out = list(rows.rows)
    if rows.unassigned is not None and rows.unassigned in counted_codes:
        out.append({"area": rows.unassigned, "name": _t(lang, "unassigned", name=rows.area["name"])})
    return out


def _rate(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 2) if whole else None


# --- the reports ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Request:
    scope: Scope
    year: int
    area: str | None = None
    unreviewed: bool = False
    lang: str = "vi"
    classification: str | None = None  # register only


def _start(request: Request) -> tuple[_Rows, dict, _Counting]:
    rows = _rows_for(request.scope, request.area, request.lang)
    versions = _versions()
    if rows.area is not None:
        areas: tuple[str, ...] | None = (rows.area["code"],)
    else:
        areas = None if request.scope.is_national else tuple(request.scope.roots or ())
    return rows, versions, _Counting(request.scope, areas, request.unreviewed, tuple(_classifying_forms(versions)))


def _report(request: Request, name: str, rows: _Rows, columns: list[str], table: list[dict] | Iterator[dict],
            total: dict | None, **extra: Any) -> Report:
    lang = request.lang
    names = {"previous": request.year - 1, "year": request.year}
    return Report(name=name, lang=lang, year=request.year, unreviewed=request.unreviewed, area=rows.area,
                  area_label=rows.label, title=_t(lang, f"title.{name}", **names),
                  columns=[(c, _t(lang, f"col.{c}", **names)) for c in columns], rows=table, total=total,
                  extra=extra)


POVERTY_COLUMNS = ["area", "name", "households", "poor", "poor_rate", "near_poor", "near_poor_rate", "average",
                   "average_rate", "not_poor", "unclassified"]


def poverty(request: Request) -> Report:
    """Per child area: households reviewed, poor, near-poor, average, with rates; a total row."""
    rows, versions, counting = _start(request)
    s = Submission
    counts = db.session.execute(
        sa.select(s.area_code, s.classification, sa.func.count())
        .where(*counting.clauses(request.year))
        .group_by(s.area_code, s.classification)).all()
    tally: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    codes = set()
    for code, classification, n in counts:
        row = rows.row_of(code)
        if row is None:
            continue
        codes.add(code)
        tally[row][classification if classification in CLASSES else "unclassified"] += n
    table = []
    for row in _with_unassigned(rows, codes, request.lang):
        table.append(_poverty_row(row, tally.get(row["area"], {})))
    total_counts: dict[str, int] = defaultdict(int)
    for found in tally.values():
        for key, n in found.items():
            total_counts[key] += n
    total = _poverty_row({"area": None, "name": _t(request.lang, "total")}, total_counts)
    return _report(request, "poverty", rows, POVERTY_COLUMNS, table, total)


def _poverty_row(row: dict, counts: Mapping[str, int]) -> dict:
    households = sum(counts.values())
    out = {**row, "households": households}
    for key in (*CLASSES, "unclassified"):
        out[key] = counts.get(key, 0)
    for key in ("poor", "near_poor", "average"):
        out[f"{key}_rate"] = _rate(out[key], households)
    return out


DEPRIVATION_COLUMNS = ["number", "dimension", "indicator", "poor_deprived", "poor_deprived_rate",
                       "near_poor_deprived", "near_poor_deprived_rate"]


def _indicators(versions: Mapping[tuple[str, str], Mapping], pairs: Sequence[tuple[str, str]]) -> list[str]:
    found: list[str] = []
    for pair in pairs:
        for key in (versions.get(pair) or {}).get("deprivations") or {}:
            if key not in found:
                found.append(key)
    known = [k for k in INDICATOR_ORDER if k in found]
    return known + [k for k in found if k not in known]


def _indicator_label(lang: str, key: str, versions: Mapping, pairs: Sequence[tuple[str, str]]) -> str:
    if f"indicator.{key}" in TEXT[lang]:
        return _t(lang, f"indicator.{key}")
    for pair in pairs:  # not one of the 2022-2025 twelve: the form's own label of its field
        field_name = ((versions.get(pair) or {}).get("deprivations") or {}).get(key)
        if field_name:
            label = _field_label(pair, field_name, lang)
            if label:
                return label
    return key


def _field_label(pair: tuple[str, str], name: str, lang: str) -> str | None:
    row = db.session.execute(sa.select(FormVersion).where(FormVersion.form_id == pair[0],
                                                          FormVersion.version == pair[1])).scalar_one_or_none()
    if row is None:
        return None
    definition = form_service.definition_of(row)
    found = next((f for f in definition.iter_fields() if f.name == name and f.answer_path == name), None)
    text = definition.label_text(found.label, lang) if found is not None else None
    if not text:
        return None
    for prefix in ("Thiếu hụt:", "Deprived:", "Deprivation:"):
        if text.startswith(prefix):
            text = text[len(prefix):].strip()
    return text[:1].upper() + text[1:]


def _pairs(counting: _Counting, year: int) -> list[tuple[str, str]]:
    """The (form, version) pairs of the year's submissions in the areas (a superset of those counted)."""
    s = Submission
    where = [s.year == year, s.form_id.in_(counting.forms), *counting.within(s.area_code)]
    return sorted((r.form_id, r.form_version) for r in db.session.execute(
        sa.select(s.form_id, s.form_version).where(*where).distinct()))


def _deprivation_sums(request: Request, counting: _Counting, versions: Mapping,
                      pairs: Sequence[tuple[str, str]], classes: Sequence[str]) -> dict[tuple, dict[str, int]]:
    """(form_id, version, classification) -> {"households": n, <indicator>: deprived households}."""
    s = Submission
    fields = sorted({f for pair in pairs for f in ((versions.get(pair) or {}).get("deprivations") or {}).values()})
    flags = _json_keys(s.computed, fields, "flags")
    sums = [sa.func.sum(_deprived(flags.columns[f])).label(f"f{i}") for i, f in enumerate(fields)]
    query = (flags.join(sa.select(s.form_id, s.form_version, s.classification, sa.func.count().label("n"), *sums)
                        .select_from(s))
             .where(*counting.clauses(request.year), s.classification.in_(classes))
             .group_by(s.form_id, s.form_version, s.classification))
    out: dict[tuple, dict[str, int]] = {}
    for r in db.session.execute(query).all():
        by_field = {f: int(getattr(r, f"f{i}") or 0) for i, f in enumerate(fields)}
        mapping = (versions.get((r.form_id, r.form_version)) or {}).get("deprivations") or {}
        out[(r.form_id, r.form_version, r.classification)] = {
            "households": int(r.n), **{key: by_field.get(f, 0) for key, f in mapping.items()}}
    return out


def deprivations(request: Request) -> Report:
    """Per indicator: poor and near-poor households deprived on it, counts and shares of their class."""
    rows, versions, counting = _start(request)
    pairs = _pairs(counting, request.year)
    indicators = _indicators(versions, pairs)
    sums = _deprivation_sums(request, counting, versions, pairs, ("poor", "near_poor"))
    households = {c: sum(v["households"] for (_, _, cls), v in sums.items() if cls == c) for c in ("poor", "near_poor")}
    deprived = {c: {k: sum(v.get(k, 0) for (_, _, cls), v in sums.items() if cls == c) for k in indicators}
                for c in ("poor", "near_poor")}
    lang = request.lang
    table = []
    for number, key in enumerate(indicators, 1):
        dimension = DIMENSION_OF.get(key)
        table.append({
            "number": number, "key": key,
            "dimension": _t(lang, f"dimension.{dimension}") if dimension else None,
            "indicator": _indicator_label(lang, key, versions, pairs),
            "poor_deprived": deprived["poor"][key],
            "poor_deprived_rate": _rate(deprived["poor"][key], households["poor"]),
            "near_poor_deprived": deprived["near_poor"][key],
            "near_poor_deprived_rate": _rate(deprived["near_poor"][key], households["near_poor"]),
        })
    total = {"number": None, "dimension": None, "indicator": _t(lang, "row.households"),
             "poor_deprived": households["poor"], "near_poor_deprived": households["near_poor"]}
    return _report(request, "deprivations", rows, DEPRIVATION_COLUMNS, table, total,
                   households={"poor": households["poor"], "near_poor": households["near_poor"]})


ETHNICITY_COLUMNS = ["area", "name", "households", "minority", "minority_rate", "ethnicity_unknown", "poor",
                     "minority_poor", "minority_poor_share", "minority_poor_rate", "near_poor", "minority_near_poor",
                     "minority_near_poor_share", "minority_near_poor_rate"]


def ethnicity(request: Request) -> Report:
    """Per child area: households reviewed and the ethnic-minority ones among them, overall, poor and
    near-poor (the head's ethnicity, answer ``ethnicity``: Kinh is 01, every other code a minority)."""
    rows, versions, counting = _start(request)
    s = Submission
    answers = _json_keys(s.answers, [ETHNICITY_FIELD], "answers")
    code = answers.columns[ETHNICITY_FIELD]
    group = sa.case((code.is_(None), "unknown"), (code == "", "unknown"), (code == KINH, "kinh"),
                    else_="minority").label("group")
    counts = db.session.execute(
        answers.join(sa.select(s.area_code, s.classification, group, sa.func.count()).select_from(s))
        .where(*counting.clauses(request.year))
        .group_by(s.area_code, s.classification, group)).all()
    tally: dict[str, dict[tuple, int]] = defaultdict(lambda: defaultdict(int))
    codes = set()
    for area_code, classification, kind, n in counts:
        row = rows.row_of(area_code)
        if row is None:
            continue
        codes.add(area_code)
        tally[row][(classification, kind)] += n
    table = [_ethnicity_row(row, tally.get(row["area"], {})) for row in _with_unassigned(rows, codes, request.lang)]
    total_counts: dict[tuple, int] = defaultdict(int)
    for found in tally.values():
        for key, n in found.items():
            total_counts[key] += n
    total = _ethnicity_row({"area": None, "name": _t(request.lang, "total")}, total_counts)
    return _report(request, "ethnicity", rows, ETHNICITY_COLUMNS, table, total)


def _ethnicity_row(row: dict, counts: Mapping[tuple, int]) -> dict:
    def n(classification=None, kind=None) -> int:
        return sum(v for (c, k), v in counts.items()
                   if (classification is None or c == classification) and (kind is None or k == kind))

    households, minority = n(), n(kind="minority")
    out = {**row, "households": households, "minority": minority, "minority_rate": _rate(minority, households),
           "ethnicity_unknown": n(kind="unknown")}
    for cls in ("poor", "near_poor"):
        total, em = n(cls), n(cls, "minority")
        out.update({cls: total, f"minority_{cls}": em, f"minority_{cls}_share": _rate(em, total),
                    f"minority_{cls}_rate": _rate(em, minority)})
    return out


CHANGE_COLUMNS = ["area", "name", "poor_start", "poor_left", "poor_not_reviewed", "poor_entered",
                  "poor_entered_new", "poor_end", "near_poor_start", "near_poor_left", "near_poor_not_reviewed",
                  "near_poor_entered", "near_poor_entered_new", "near_poor_end"]


def changes(request: Request) -> Report:
    """Per child area: households that entered or left poverty (and near-poverty) between ``year - 1``
    and ``year``, each year counted by the same rule. A household is shown in the area of its
    ``year`` record (of its ``year - 1`` record if it has none), so that in every row
    end = start - left - not reviewed + entered."""
    rows, versions, counting = _start(request)
    s = Submission
    years = []
    for year, now in ((request.year, 1), (request.year - 1, 0)):
        years.append(sa.select(s.household_id, s.area_code, s.classification, sa.literal(now).label("now"))
                     .where(*counting.clauses(year)))
    both = sa.union_all(*years).subquery("both")
    per_household = (sa.select(
        both.c.household_id,
        sa.func.max(sa.case((both.c.now == 1, both.c.area_code))).label("area_now"),
        sa.func.max(sa.case((both.c.now == 0, both.c.area_code))).label("area_before"),
        sa.func.max(sa.case((both.c.now == 1, sa.func.coalesce(both.c.classification, "")))).label("now"),
        sa.func.max(sa.case((both.c.now == 0, sa.func.coalesce(both.c.classification, "")))).label("before"))
        .group_by(both.c.household_id).subquery("per_household"))
    area = sa.func.coalesce(per_household.c.area_now, per_household.c.area_before)
    counts = db.session.execute(
        sa.select(area, per_household.c.before, per_household.c.now, sa.func.count())
        .group_by(area, per_household.c.before, per_household.c.now)).all()
    tally: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    codes = set()
    for code, before, now, n in counts:
        row = rows.row_of(code)
        if row is None:
            continue
        codes.add(code)
        for cls in ("poor", "near_poor"):
            counted = tally[row]
            if before == cls:
                counted[f"{cls}_start"] += n
                if now is None:
                    counted[f"{cls}_not_reviewed"] += n
                elif now != cls:
                    counted[f"{cls}_left"] += n
            if now == cls:
                counted[f"{cls}_end"] += n
                if before != cls:
                    counted[f"{cls}_entered"] += n
                    if before is None:
                        counted[f"{cls}_entered_new"] += n
    keys = CHANGE_COLUMNS[2:]
    table = [{**row, **{k: tally.get(row["area"], {}).get(k, 0) for k in keys}}
             for row in _with_unassigned(rows, codes, request.lang)]
    total = {"area": None, "name": _t(request.lang, "total"),
             **{k: sum(found.get(k, 0) for found in tally.values()) for k in keys}}
    return _report(request, "changes", rows, CHANGE_COLUMNS, table, total, previous_year=request.year - 1)


REGISTER_COLUMNS = ["number", "household_code", "head_name", "ethnicity", "ethnic_minority", "village",
                    "village_name", "member_count", "classification", "income_per_person", "deprivation_count"]
REGISTER_TAIL = ["visit_date", "review_state", "household_id", "submission_id"]
REGISTER_BATCH = 2_000


def register(request: Request) -> Report:
    """One row per counted household: code, head, ethnicity, village, members, classification, income per
    person, deprivations (count and one column per indicator), visit date, review state. No ID numbers.
    Rows come from a server-side cursor, in village then household-code order."""
    rows, versions, counting = _start(request)
    pairs = _pairs(counting, request.year)
    indicators = _indicators(versions, pairs)
    lang = request.lang
    s = Submission
    outputs = [versions.get(p) or {} for p in pairs]
    head_fields = sorted({o.get("head_name") for o in outputs if o.get("head_name")})
    member_fields = sorted({o.get("member_count") for o in outputs if o.get("member_count")})
    dep_fields = sorted({f for o in outputs for f in (o.get("deprivations") or {}).values()})
    where = counting.clauses(request.year)
    if request.classification:
        where.append(s.classification == request.classification)
    answers = _json_keys(s.answers, [ETHNICITY_FIELD, *head_fields, *member_fields], "answers")
    flags = _json_keys(s.computed, dep_fields, "flags")
    dialect = db.session.get_bind().dialect.name
    query = flags.join(answers.join(sa.select(
        uuid_text(s.id, dialect).label("id"), uuid_text(s.household_id, dialect).label("household_id"), s.form_id,
        s.form_version, s.area_code, s.household_code, s.classification, s.income_per_person, s.deprivation_count,
        s.review_state, time_text(_visit(s), dialect, "date").label("visit_date"),
        answers.columns[ETHNICITY_FIELD].label("ethnicity"),
        *[answers.columns[f].label(f"h{i}") for i, f in enumerate(head_fields)],
        *[answers.columns[f].label(f"m{i}") for i, f in enumerate(member_fields)],
        *[flags.columns[f].label(f"d{i}") for i, f in enumerate(dep_fields)]).select_from(s))) \
        .where(*where).order_by(s.area_code, s.household_code, s.household_id)
    names = _area_names(counting)
    ethnicities = _ethnicity_labels(pairs, lang)
    heads = {f: i for i, f in enumerate(head_fields)}
    members = {f: i for i, f in enumerate(member_fields)}
    deps = {f: i for i, f in enumerate(dep_fields)}
    yes, no = _t(lang, "yes"), _t(lang, "no")

    # What each form version's row reads (the attribute names of the query's columns), once.
    plans = {}
    for pair in pairs:
        out = versions.get(pair) or {}
        mapping = out.get("deprivations") or {}
        plans[pair] = (f"h{heads[out['head_name']]}" if out.get("head_name") in heads else None,
                       f"m{members[out['member_count']]}" if out.get("member_count") in members else None,
                       [(f"deprived_{key}", f"d{deps[mapping[key]]}" if mapping.get(key) in deps else None)
                        for key in indicators])
    classes = {c: _t(lang, f"class.{c}") for c in CLASSES}
    states = {state: _t(lang, f"state.{state}") for state in ("received", "approved", "rejected",
                                                              "changes_requested")}

    def table() -> Iterator[dict]:
        result = db.session.execute(query.execution_options(yield_per=REGISTER_BATCH))
        for number, r in enumerate(result, 1):
            head, count, flags = plans.get((r.form_id, r.form_version)) or (None, None, ())
            code = r.ethnicity
            row = {
                "number": number, "household_code": r.household_code,
                "head_name": getattr(r, head) if head else None,
                "ethnicity": ethnicities.get(code, code) if code else None,
                "ethnic_minority": None if not code else (no if code == KINH else yes),
                "village": r.area_code, "village_name": names.get(r.area_code),
                "member_count": _int(getattr(r, count)) if count else None,
                "classification": classes.get(r.classification, r.classification),
                "income_per_person": _int(r.income_per_person), "deprivation_count": r.deprivation_count,
                "visit_date": r.visit_date, "review_state": states.get(r.review_state, r.review_state),
                "household_id": r.household_id, "submission_id": r.id,
            }
            for column, attribute in flags:
                row[column] = _flag_value(getattr(r, attribute)) if attribute else None
            yield row

    columns = REGISTER_COLUMNS + [f"deprived_{k}" for k in indicators] + REGISTER_TAIL
    report = _report(request, "register", rows, [c for c in columns if not c.startswith("deprived_")], table(),
                     None, classification=request.classification)
    headings = dict(report.columns)
    report.columns = [(c, headings[c] if c in headings else _t(
        lang, "col.deprived", label=_indicator_label(lang, c.removeprefix("deprived_"), versions, pairs)))
        for c in columns]
    return report


def _flag_value(value: Any) -> int | None:
    if value is None:
        return None
    return 1 if str(value) in ("1", "1.0", "true", "True") else 0


def _int(value: Any) -> int | None:
    try:
        return None if value is None else int(round(float(value)))
    except (TypeError, ValueError):
        return None


def _area_names(counting: _Counting) -> dict[str, str]:
    query = sa.select(Area.code, Area.name).where(*counting.within(Area.code))
    return dict(db.session.execute(query).all())


def _ethnicity_labels(pairs: Sequence[tuple[str, str]], lang: str) -> dict[str, str]:
    labels: dict[str, str] = {}
    for form_id, version in pairs:
        row = db.session.execute(sa.select(FormVersion).where(FormVersion.form_id == form_id,
                                                              FormVersion.version == version)).scalar_one_or_none()
        if row is None:
            continue
        definition = form_service.definition_of(row)
        found = next((f for f in definition.iter_fields() if f.name == ETHNICITY_FIELD), None)
        if found is None or not found.choices:
            continue
        for choice in definition.choices.get(found.choices, ()):
            labels.setdefault(str(choice.value), definition.label_text(choice.label, lang) or str(choice.value))
    return labels


BUILDERS: dict[str, Callable[[Request], Report]] = {
    "poverty": poverty, "deprivations": deprivations, "ethnicity": ethnicity, "changes": changes,
    "register": register,
}


def build(name: str, request: Request, fmt: str) -> Report:
    """The report, audited when it leaves the server as a file or names households."""
    report = BUILDERS[name](request)
    if fmt != "json" or name == "register":
        record_export(f"report.{name}", area_code=request.area, format=fmt, year=request.year,
                      include="unreviewed" if request.unreviewed else None,
                      classification=request.classification, language=request.lang)
    return report


def record_export(action: str, *, area_code: str | None, **detail: Any) -> None:
    """Audit an export by the caller (who; what and with which options; the entry's time is when),
    committed before the first row is read (``audit.record_read``)."""
    audit.record_read(action, target_type="export", target_id=None, area_code=area_code,
                      **{k: _plain(v) for k, v in detail.items() if v is not None and v != [] and v != {}})


def _plain(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime | uuid.UUID):
        return str(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


# --- rendering ------------------------------------------------------------------------------------

CHUNK = 64 * 1024


def csv_chunks(report: Report) -> Iterator[bytes]:
    """The report as a UTF-8 CSV (with a BOM), in chunks: the heading lines, then the table."""
    out = CsvStream()
    for line in report.heading_lines():
        out.writerow(line)
    for line in report.table_lines():
        out.writerow(line)
        if out.pending() >= CHUNK:
            yield out.take()
    yield out.take()


def xlsx_file(report: Report) -> BinaryIO:
    """The report as an .xlsx workbook in an unnamed temporary file (written in constant memory),
    rewound: one sheet, the heading lines in bold above the table."""
    handle = tempfile.TemporaryFile()
    try:
        book = XlsxStream(handle)
        book.add_sheet("report", sheet_title(report))
        for line in report.heading_lines():
            book.writerow("report", line, bold=True)
        for i, line in enumerate(report.table_lines()):
            book.writerow("report", line, bold=i == 0)
        book.close()
        handle.seek(0)
        return handle
    except BaseException:
        handle.close()
        raise


def sheet_title(report: Report) -> str:
    return {"vi": {"poverty": "Tổng hợp", "deprivations": "Thiếu hụt", "ethnicity": "Dân tộc thiểu số",
                   "changes": "Diễn biến", "register": "Danh sách hộ"},
            "en": {"poverty": "Summary", "deprivations": "Deprivations", "ethnicity": "Ethnic minorities",
                   "changes": "Change", "register": "Register"}}[report.lang][report.name]


def file_name(report: Report, extension: str) -> str:
    area = (report.area or {}).get("code") or ("all" if report.area_label == _t(report.lang, "whole_country")
                                                else "mine")
    suffix = "-preview" if report.unreviewed else ""
    return f"rasoat-{report.name}-{area}-{report.year}{suffix}.{extension}"


def json_chunks(report: Report) -> Iterator[bytes]:
    """The report as one JSON document, streamed row by row (the register can be a province's)."""
    head = orjson.dumps(report.header(), option=orjson.OPT_NON_STR_KEYS)
    yield head[:-1] + b',"rows":['
    batch: list[bytes] = []
    size = 0
    for i, row in enumerate(report.rows):
        piece = (b"," if i else b"") + orjson.dumps(row, default=str)
        batch.append(piece)
        size += len(piece)
        if size >= CHUNK:
            yield b"".join(batch)
            batch, size = [], 0
    batch.append(b'],"total":' + orjson.dumps(report.total, default=str) + b"}")
    yield b"".join(batch)
