"""Reports (the year's official tables) and exports of a form's submissions."""

from __future__ import annotations

from flask import Response, stream_with_context
from marshmallow import Schema, fields, validate

from server.api.households import CLASSIFICATIONS, SubmissionsQuery
from server.jsonio import ApiBlueprint
from server.scoping import scope_of
from server.security.current import current_user, requires
from server.services import form_exports
from server.services import reports as service

blp = ApiBlueprint("reports", __name__, url_prefix="/api/v1",
                   description="Reports (Báo cáo) and exports (Xuất dữ liệu), within your areas")

CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ZIP = "application/zip"


class ReportQuery(Schema):
    area = fields.String(load_default=None, validate=validate.Length(min=1, max=64), metadata={
        "description": "The area whose child areas are the rows (province -> communes, commune -> villages). "
                       "Default: your area (several: one row each; national admins: the provinces). 404 outside "
                       "your areas."})
    year = fields.Integer(required=True, validate=validate.Range(min=2000, max=2100),
                          metadata={"description": "Review year."})
    format = fields.String(load_default="json", validate=validate.OneOf(["json", "csv", "xlsx"]))
    include = fields.String(load_default=None, validate=validate.OneOf(["unreviewed"]), metadata={
        "description": "`unreviewed`: a preview counting each household's latest submission whatever its review "
                       "state. Without it, the official figures: each household's latest approved submission."})
    lang = fields.String(load_default="vi", validate=validate.OneOf(service.LANGUAGES),
                         metadata={"description": "Language of headings and labels (data is unchanged)."})


class RegisterQuery(ReportQuery):
    classification = fields.String(load_default=None, validate=validate.OneOf(CLASSIFICATIONS),
                                   metadata={"description": "Only households of this classification."})


class ReportColumnOut(Schema):
    key = fields.String(required=True)
    label = fields.String(required=True)


class ReportAreaOut(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    level = fields.String(required=True)


class ReportOut(Schema):
    report = fields.String(required=True)
    year = fields.Integer(required=True)
    counts = fields.String(required=True, metadata={
        "description": "`approved` (official: each household's latest approved submission of the year, latest by "
                       "visit time) or `unreviewed` (preview: the latest whatever its review state)."})
    counting = fields.String(required=True, metadata={"description": "The same, as a sentence in `language`."})
    official = fields.Boolean(required=True)
    title = fields.String(required=True)
    area = fields.Nested(ReportAreaOut, allow_none=True, required=True,
                         metadata={"description": "null: your areas, or the whole country"})
    area_label = fields.String(required=True)
    language = fields.String(required=True)
    generated_at = fields.AwareDateTime(required=True)
    columns = fields.List(fields.Nested(ReportColumnOut), required=True,
                          metadata={"description": "The keys of `rows`, in order, with their headings."})
    rows = fields.List(fields.Dict(), required=True)
    total = fields.Dict(allow_none=True, required=True)


class DeprivationsOut(ReportOut):
    households = fields.Dict(keys=fields.String(), values=fields.Integer(),
                             metadata={"description": "Poor and near-poor households counted."})


class ChangesOut(ReportOut):
    previous_year = fields.Integer()


class RegisterOut(ReportOut):
    classification = fields.String(allow_none=True)


def _file_responses(what: str, schema: type[Schema]) -> dict:
    return {"200": {"description": f"{what}. `format=json` (default), `csv` (UTF-8 with a BOM) or `xlsx` (one "
                                   "sheet); the files' first line says which submissions it counts.",
                    "content": {"application/json": {"schema": schema},
                                CSV: {"schema": {"type": "string"}},
                                XLSX: {"schema": {"type": "string", "format": "binary"}}}},
            "404": {"description": "No such area in your areas (`request.not_found`)"}}


def _serve(name: str, args: dict):
    user = current_user()
    request = service.Request(scope=scope_of(user), year=args["year"], area=args["area"],
                              unreviewed=args["include"] == "unreviewed", lang=args["lang"],
                              classification=args.get("classification"))
    fmt = args["format"]
    report = service.build(name, request, fmt)
    if fmt == "csv":
        return _download(stream_with_context(service.csv_chunks(report)), f"{CSV}; charset=utf-8",
                         service.file_name(report, "csv"))
    if fmt == "xlsx":
        handle = service.xlsx_file(report)
        return _download(form_exports.file_chunks(handle), XLSX, service.file_name(report, "xlsx"))
    if name == "register":  # a province's register is long: streamed, like the files
        response = Response(stream_with_context(service.json_chunks(report)), mimetype="application/json")
        response.headers["Cache-Control"] = "private, no-store"
        return response
    return {**report.header(), "rows": list(report.rows), "total": report.total}


def _download(chunks, mimetype: str, filename: str) -> Response:
    response = Response(chunks, mimetype=mimetype, direct_passthrough=True)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@blp.route("/reports/poverty", methods=["GET"])
@requires("supervisor", "admin")
@blp.arguments(ReportQuery, location="query")
@blp.response(200, ReportOut)
@blp.doc(responses=_file_responses("Summary per child area", ReportOut))
def poverty_report(args):
    """Poor, near-poor and average households per child area, counts and rates, with a total row.

    Row keys: `area`, `name`, `households` (reviewed, i.e. counted), `poor`, `poor_rate`, `near_poor`,
    `near_poor_rate`, `average`, `average_rate`, `not_poor`, `unclassified`. Rates are % of the households
    reviewed in the row. A row for households placed in the area itself (in no village) appears when there are
    some."""
    return _serve("poverty", args)


@blp.route("/reports/deprivations", methods=["GET"])
@requires("supervisor", "admin")
@blp.arguments(ReportQuery, location="query")
@blp.response(200, DeprivationsOut)
@blp.doc(responses=_file_responses("Deprivations per indicator", DeprivationsOut))
def deprivations_report(args):
    """Poor and near-poor households deprived on each indicator of the forms' `outputs.deprivations`.

    One row per indicator (`number`, `key`, `dimension`, `indicator`, `poor_deprived`, `poor_deprived_rate`,
    `near_poor_deprived`, `near_poor_deprived_rate`; rates are % of the poor, resp. near-poor, households);
    `total` and `households` give the poor and near-poor households counted."""
    return _serve("deprivations", args)


@blp.route("/reports/ethnicity", methods=["GET"])
@requires("supervisor", "admin")
@blp.arguments(ReportQuery, location="query")
@blp.response(200, ReportOut)
@blp.doc(responses=_file_responses("Ethnic-minority households per child area", ReportOut))
def ethnicity_report(args):
    """Ethnic-minority households (the head's ethnicity is not Kinh, code 01) per child area: overall, poor and
    near-poor.

    Row keys: `area`, `name`, `households`, `minority`, `minority_rate`, `ethnicity_unknown`, `poor`,
    `minority_poor`, `minority_poor_share` (% of the poor), `minority_poor_rate` (% of the minority households),
    and the same for `near_poor`."""
    return _serve("ethnicity", args)


@blp.route("/reports/changes", methods=["GET"])
@requires("supervisor", "admin")
@blp.arguments(ReportQuery, location="query")
@blp.response(200, ChangesOut)
@blp.doc(responses=_file_responses("Change over the year per child area", ChangesOut))
def changes_report(args):
    """Households that entered or left poverty and near-poverty: each household's counted classification in
    `year` against `year - 1` (both counted by the same rule), per child area.

    Row keys, for `poor` and `near_poor`: `_start` (in year - 1), `_left` (counted in year with another
    classification), `_not_reviewed` (not counted in year), `_entered` (of which `_entered_new`: not counted in
    year - 1), `_end`; end = start - left - not_reviewed + entered. A household is shown in the area of its
    `year` record (else of its `year - 1` record)."""
    return _serve("changes", args)


@blp.route("/reports/register", methods=["GET"])
@requires("supervisor", "admin")
@blp.arguments(RegisterQuery, location="query")
@blp.response(200, RegisterOut)
@blp.doc(responses=_file_responses("The household register", RegisterOut))
def register_report(args):
    """The household register: one row per counted household, by village and household code. No ID numbers.

    Row keys: `number`, `household_code`, `head_name`, `ethnicity`, `ethnic_minority`, `village`, `village_name`,
    `member_count`, `classification`, `income_per_person`, `deprivation_count`, `deprived_<indicator>` (1/0) for
    each indicator, `visit_date`, `review_state`, `household_id`, `submission_id`. Streamed in every format;
    every request is audited (`report.register`)."""
    return _serve("register", args)


# The queue's filters, the very fields of its query schema (a filter the queue gains, exports take
# too); not its paging, its order, or the form (the path's) and version (`version` here, as in the
# HTTP contract).
_NOT_FILTERS = {"cursor", "limit", "sort", "form_id", "form_version"}


class ExportQuery(Schema.from_dict({name: f for name, f in SubmissionsQuery._declared_fields.items()
                                    if name not in _NOT_FILTERS})):
    format = fields.String(load_default="csv", validate=validate.OneOf(form_exports.FORMATS))
    version = fields.String(load_default=None, validate=validate.Length(min=1, max=64),
                            metadata={"description": "Only this version of the form."})


@blp.route("/forms/<string:form_id>/export", methods=["GET"])
@requires("supervisor", "admin")
@blp.arguments(ExportQuery, location="query")
@blp.doc(description="Every submission of the form in your areas that the filters select (the queue's filters: "
                     "`where` conditions are checked against the form), streamed. `format=csv`: a zip holding "
                     "`<form>.csv` and one `<form>-<repeat>.csv` per repeat, UTF-8 with a BOM, linked by `KEY` and "
                     "`PARENT_KEY` (plus `submission_id`); `format=xlsx`: one sheet per table. Every row carries "
                     "the version, the enumerator, the review state (repeat rows: their submission's) and `flags` "
                     "(empty: quality flags are not computed yet). Text starting with = + - @ is prefixed with an "
                     "apostrophe. Every export is audited (`form.export`, with its filters).",
         responses={"200": {"description": "The export",
                            "content": {ZIP: {"schema": {"type": "string", "format": "binary"}},
                                        XLSX: {"schema": {"type": "string", "format": "binary"}}}},
                    "404": {"description": "No such form or version (for you) (`request.not_found`)"},
                    "422": {"description": "Invalid filters (`request.invalid`, naming the field)"}})
def export_form(args, form_id):
    """Export a form's submissions (CSV files in a zip, or XLSX)."""
    user = current_user()
    fmt = args.pop("format")
    filters = {"form_version": args.pop("version"), **args}
    export = form_exports.prepare(scope_of(user), form_id, fmt, filters)
    if fmt == "csv":
        return _download(stream_with_context(form_exports.csv_zip(export)), ZIP, export.file_name)
    return _download(form_exports.file_chunks(form_exports.xlsx_file(export)), XLSX, export.file_name)
