"""What the Python engine says about the bundled cases, for the field app's JavaScript engine.

The phone computes skip logic, constraints, the classification and its reasons with its own
code (server/field_app/js/form/), and what the enumerator sees must be what the supervisor
gets. This module writes down, for every worked case in ``forms/bundled/cases/`` and a set of
deliberately broken variants of each book's base household, what ``forms.answers`` and
``forms.reasons`` answer: the normalised answers, the calculated values, the outputs, every
problem (path, code, message, messages) and the whole explanation. ``tests/js/form_engine.test.mjs``
runs the same households through ``evaluateForm`` under ``node --test`` and requires equality.

It also generates ``server/field_app/js/form/supplements.js`` from ``forms/bundled/reasons/``
(the ``reasons`` mappings of the versions published without one), so the phone explains those
versions as the server does.

Both files are committed; ``tests/unit/forms/test_field_app_form_fixtures.py`` fails when they
drift from what this module would write now. Refresh with::

    .venv/bin/python tests/js/form_fixtures.py
"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for path in (ROOT, ROOT / "tests"):  # run as a script from anywhere
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import canonjson  # noqa: E402
from forms.answers import evaluate_submission  # noqa: E402
from forms.definition import load_form  # noqa: E402
from forms.reasons import explain  # noqa: E402
from support.case_books import patched, resolve_answers  # noqa: E402

BUNDLED = ROOT / "forms" / "bundled"
FIXTURE = ROOT / "tests" / "js" / "fixtures" / "form_engine_cases.json"
SUPPLEMENTS_JS = ROOT / "server" / "field_app" / "js" / "form" / "supplements.js"
TODAY = date(2026, 10, 1)  # as tests/unit/forms/test_bundled_forms.py


def _without(d: dict, *keys) -> dict:
    return {k: v for k, v in d.items() if k not in keys}


def _member_patch(answers: dict, index: int, **changes) -> dict:
    members = [dict(m) for m in answers["members"]]
    members[index] = patched(members[index], changes)
    return dict(answers, members=members)


# Broken households, each made from a book's base: every kind of problem the engine reports.
VARIANTS = {
    "empty": lambda a: {},
    "not-an-object": lambda a: [],
    "no-area": lambda a: _without(a, "area_type"),
    "unknown-key": lambda a: dict(a, favourite_colour="blue"),
    "group-key": lambda a: dict(a, identification={"area_type": "rural"}),
    "calculated-given": lambda a: dict(a, classification="poor", deprivation_count=99),
    "wrong-types": lambda a: dict(a, member_count="4", area_type=1, income_wages=1.5, floor_area="big"),
    "bool-for-number": lambda a: dict(a, income_wages=True),
    "unknown-choice": lambda a: dict(a, area_type="suburban", ethnicity="99x"),
    "bad-geopoint": lambda a: dict(a, location={"lat": 123, "lon": 105}),
    "geopoint-extra": lambda a: dict(a, location={"lat": 21, "lon": 105, "speed": 3}),
    "bad-image": lambda a: dict(a, house_photo="photo.jpg"),
    "image": lambda a: dict(a, house_photo="sha256:" + "AB" * 32),
    "repeat-not-list": lambda a: dict(a, members={"0": a["members"][0]}),
    "repeat-item-not-object": lambda a: dict(a, members=[*a["members"], "x"]),
    "count-too-high": lambda a: dict(a, member_count=7),
    "count-zero": lambda a: dict(a, member_count=0, members=[]),
    "no-members": lambda a: _without(a, "members"),
    "member-missing-name": lambda a: _member_patch(a, 1, member_name=None),
    "member-short-name": lambda a: _member_patch(a, 1, member_name="A"),
    "member-second-head": lambda a: _member_patch(a, 1, relation="head"),
    "member-irrelevant-answer": lambda a: _member_patch(a, 0, school_status="at_level", stunted="no"),
    "member-unknown-key": lambda a: _member_patch(a, 2, shoe_size=38),
    "member-bad-birth-year": lambda a: _member_patch(a, 2, birth_year=3000),
    "member-birth-year-float": lambda a: _member_patch(a, 2, birth_year=2016.0),
    "member-future-child": lambda a: _member_patch(a, 3, birth_year=a["members"][3]["birth_year"] + 30),
    "negative-income": lambda a: dict(a, income_wages=-1, income_agriculture=-5),
    "telecom-none-and-more": lambda a: dict(a, telecom_services=["none", "mobile_phone"]),
    "telecom-duplicate": lambda a: dict(a, telecom_services=["none", "none"]),
    "telecom-empty": lambda a: dict(a, telecom_services=[]),
    "code-with-space": lambda a: dict(a, household_code="MT 1"),
    "nfd-name": lambda a: dict(a, head_name="Nguye\u0302\u0303n Va\u0306n An"),
    "nulls": lambda a: {k: None for k in a},
}


# A small form using what the bundled forms do not: choice filters, a required condition,
# dates and today(), a note, a read-only calculation, a relevant group, a relevant repeat and a
# repeat inside a repeat, select_multiple with a filter, datetime. Its households below are
# evaluated by both engines too.
SYNTHETIC_FORM = {
    "form_id": "engine-features",
    "version": "1",
    "title": {"vi": "Kiểm tra", "en": "Check"},
    "languages": ["vi", "en"],
    "parameters": {"min_age": 18, "region": "north"},
    "choices": {
        "province": [{"value": "01", "label": "Hà Nội", "region": "north"},
                     {"value": "79", "label": "TP Hồ Chí Minh", "region": "south"}],
        "district": [{"value": "001", "label": "Ba Đình", "province": "01"},
                     {"value": "002", "label": "Hoàn Kiếm", "province": "01"},
                     {"value": "760", "label": "Quận 1", "province": "79"}],
        "crop": [{"value": "rice", "label": "Lúa", "season": "wet"}, {"value": "maize", "label": "Ngô", "season": "dry"},
                 {"value": "tea", "label": "Chè", "season": "wet"}],
        "yes_no": [{"value": "yes", "label": "Có"}, {"value": "no", "label": "Không"}],
    },
    "fields": [
        {"name": "province", "type": "select_one", "choices": "province", "required": True,
         "choice_filter": "region = ${param:region} or ${allow_south} = 'yes'"},
        {"name": "allow_south", "type": "select_one", "choices": "yes_no"},
        {"name": "district", "type": "select_one", "choices": "district", "required": True,
         "choice_filter": "province = ${province}"},
        {"name": "visit_date", "type": "date", "required": True,
         "constraint": ". <= today()", "constraint_message": {"vi": "Ngày không được sau hôm nay", "en": "Not after today"}},
        {"name": "visited_at", "type": "datetime"},
        {"name": "days_since", "type": "calculate", "calculation": "number(today()) - number(${visit_date})"},
        {"name": "intro", "type": "note", "label": {"vi": "Ghi chú", "en": "Note"}},
        {"name": "code", "type": "text", "read_only": True, "calculation": "concat(${province}, '-', ${district})"},
        {"name": "has_farm", "type": "select_one", "choices": "yes_no", "required": True},
        {"name": "farm", "type": "group", "relevant": "${has_farm} = 'yes'", "fields": [
            {"name": "crops", "type": "select_multiple", "choices": "crop", "required": True,
             "choice_filter": "season = 'wet' or ${province} = '79'"},
            {"name": "area", "type": "decimal", "required": "count-selected(${crops}) > 1",
             "required_message": {"vi": "Nhập diện tích khi trồng nhiều loại", "en": "Area when several crops"}},
        ]},
        {"name": "plots", "type": "repeat", "relevant": "${has_farm} = 'yes'", "repeat_count": "${plot_count}", "fields": [
            {"name": "plot_name", "type": "text", "required": True},
            {"name": "owner_age", "type": "integer", "constraint": ". >= ${param:min_age}"},
            {"name": "trees", "type": "repeat", "fields": [
                {"name": "kind", "type": "text"},
                {"name": "height", "type": "decimal", "constraint": ". > 0 and . < 100"},
            ]},
            {"name": "tree_count", "type": "calculate", "calculation": "count(${trees})"},
            {"name": "where", "type": "calculate", "calculation": "concat(${plot_name}, '@', ${district}, '#', position(..))"},
        ]},
        {"name": "plot_count", "type": "integer", "relevant": "${has_farm} = 'yes'"},
        {"name": "total_trees", "type": "calculate", "calculation": "sum(${tree_count})"},
        {"name": "all_heights", "type": "calculate", "calculation": "sum(${height})"},
        {"name": "summary", "type": "calculate",
         "calculation": "if(${has_farm} = 'yes', concat(${code}, ':', ${total_trees}), 'none')"},
    ],
    "outputs": {"household_code": "code", "head_name": "summary"},
}

_FARM = {"province": "01", "district": "002", "visit_date": "2026-09-30", "has_farm": "yes",
         "crops": ["rice", "tea"], "area": 1.5, "plot_count": 2,
         "plots": [{"plot_name": "Bãi trên", "owner_age": 40, "trees": [{"kind": "nhãn", "height": 3.5},
                                                                      {"kind": "vải", "height": 4}]},
                   {"plot_name": "Ruộng dưới", "owner_age": 60, "trees": []}]}
SYNTHETIC_ANSWERS = {
    "farm": _FARM,
    "no-farm": {"province": "01", "district": "001", "visit_date": "2026-10-01", "has_farm": "no",
                "visited_at": "2026-10-01T08:30:00+07:00"},
    "no-farm-but-farm-answers": dict(_FARM, has_farm="no"),
    "filtered-province": dict(_FARM, province="79", district="760"),
    "south-allowed": dict(_FARM, province="79", district="760", allow_south="yes", crops=["maize"], area=None),
    "district-of-another-province": dict(_FARM, district="760"),
    "crop-filtered-out": dict(_FARM, crops=["rice", "maize"]),
    "area-required-when-several": {k: v for k, v in _FARM.items() if k != "area"},
    "future-date": dict(_FARM, visit_date="2026-10-02"),
    "bad-date": dict(_FARM, visit_date="2026-02-30"),
    "bad-datetime": dict(_FARM, visited_at="2026-10-01 08:30"),
    "read-only-answered": dict(_FARM, code="X"),
    "note-answered": dict(_FARM, intro="hello"),
    "plot-count-mismatch": dict(_FARM, plot_count=3),
    "young-owner-tall-tree": dict(_FARM, plots=[{"plot_name": "A", "owner_age": 12,
                                                  "trees": [{"kind": "x", "height": 120}]}, {"plot_name": "B"}]),
    "nested-unknown-key": dict(_FARM, plots=[{"plot_name": "A", "trees": [{"colour": "green"}]}, {"plot_name": "B"}]),
    "missing-plot-name": dict(_FARM, plots=[{"owner_age": 30}, {"plot_name": "B"}]),
}


def _problems(result) -> list[dict]:
    return [p.to_dict() for p in result.errors]


def digest(value) -> str:
    """sha256 of the canonical JSON (canonjson: sorted keys, NFC, integral floats as ints);
    the JS test hashes its own values the same way."""
    return canonjson.sha256_hex(canonjson.canonical_json(value))


def _entry(form, book_name: str, case_id: str, answers, parameters) -> dict:
    result = evaluate_submission(form, answers, parameters=parameters or None, today=TODAY)
    reasons = explain(form, result, parameters or None)
    # Outputs and problems in full (what a failing test shows); the normalised answers, the
    # calculated values and the whole explanation (sentences included) by digest, which keeps
    # the fixture small and the comparison exact.
    return {
        "book": book_name,
        "id": case_id,
        "parameters": parameters or {},
        "outputs": result.outputs,
        "errors": _problems(result),
        "attachments": result.attachments,
        "digests": {"answers": digest(result.answers), "computed": digest(result.computed),
                    "reasons": digest(reasons)},
    }


def build_fixture() -> dict:
    cases = []
    variants = []
    for path in sorted((BUNDLED / "cases").glob("*.cases.json")):
        book = json.loads(path.read_text(encoding="utf-8"))
        form = load_form(json.loads((BUNDLED / book["form"]).read_text(encoding="utf-8")))
        for case in book["cases"]:
            answers = resolve_answers(book, case)
            # The JS test resolves the household from the same book (same rules as here).
            cases.append(_entry(form, path.name, case["id"], answers, case.get("parameters")))
        base = resolve_answers(book, {"patch": {}})
        for name, make in VARIANTS.items():
            entry = _entry(form, path.name, name, make(base), None)
            entry["input"] = make(base)
            variants.append(entry)
    synthetic = []
    form = load_form(SYNTHETIC_FORM)
    for name, answers in SYNTHETIC_ANSWERS.items():
        entry = _entry(form, "synthetic", name, answers, None)
        entry["input"] = answers
        synthetic.append(entry)
    return {"today": TODAY.isoformat(), "cases": cases, "variants": variants,
            "synthetic_form": SYNTHETIC_FORM, "synthetic": synthetic}


def build_supplements() -> str:
    items = []
    for path in sorted((BUNDLED / "reasons").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        items.append({"form_id": data["form_id"], "version": data["version"], "sha256": data["sha256"],
                      "reasons": data["reasons"]})
    body = json.dumps(items, ensure_ascii=False, indent=1, sort_keys=True)
    return (
        "// GENERATED by tests/js/form_fixtures.py from forms/bundled/reasons/*.json: do not edit.\n"
        "// The `reasons` mappings of the bundled versions published before forms carried one\n"
        "// (forms/reasons.py supplement); tests/unit/forms/test_field_app_form_fixtures.py checks it\n"
        "// is current.\n"
        f"export const SUPPLEMENTS = Object.freeze({body});\n"
    )


def fixture_text() -> str:
    """One case a line, so a change shows in a diff as the cases it changed."""
    data = build_fixture()

    def line(value) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))  # key order is answer order

    lists = ",\n".join(
        f"{line(key)}:[\n" + ",\n".join(line(c) for c in data[key]) + "\n]" for key in ("cases", "variants", "synthetic"))
    return f'{{"today":{line(data["today"])},\n"synthetic_form":{line(data["synthetic_form"])},\n{lists}}}\n'



def main() -> None:
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    FIXTURE.write_text(fixture_text(), encoding="utf-8")
    SUPPLEMENTS_JS.write_text(build_supplements(), encoding="utf-8")
    print(f"wrote {FIXTURE.relative_to(ROOT)} and {SUPPLEMENTS_JS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
