"""Benchmark: compile a household-review form and evaluate a 30-member household.

    .venv/bin/python bench/forms_bench.py [--rounds 500] [--members 30] [--form PATH]

Loads the bundled official forms (forms/bundled/household-review-*.json) when they exist,
else a synthetic form of this script's own (25 fields per member, a dozen calculations).
Prints median and p95 of load_form (compile) and of evaluate_submission. Figures only: the
test-suite makes no timed assertions. Budget: evaluate_submission < 2 ms median for 30 members.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from forms.answers import evaluate_submission  # noqa: E402
from forms.definition import FormDefinition, load_form  # noqa: E402

TODAY = date(2026, 10, 1)


def synthetic_form() -> dict:
    yes_no = [{"value": "yes", "label": {"vi": "Có", "en": "Yes"}},
              {"value": "no", "label": {"vi": "Không", "en": "No"}}]
    member_fields = [
        {"name": "member_name", "type": "text", "label": {"vi": "Họ và tên"}, "required": True},
        {"name": "sex", "type": "select_one", "choices": "sex", "required": True},
        {"name": "birth_date", "type": "date", "constraint": ". <= today()"},
        {"name": "age", "type": "integer", "required": True, "constraint": ". >= 0 and . <= 120",
         "constraint_message": {"vi": "Tuổi từ 0 đến 120", "en": "Age 0 to 120"}},
        {"name": "relation", "type": "select_one", "choices": "relation", "required": True},
        {"name": "ethnicity", "type": "select_one", "choices": "ethnicity"},
        {"name": "national_id", "type": "text", "relevant": "${age} >= 14",
         "constraint": "regex(., '^[0-9]{12}$') or regex(., '^[0-9]{9}$')"},
        {"name": "has_health_insurance", "type": "select_one", "choices": "yes_no",
         "relevant": "${age} >= 6", "required": True},
        {"name": "education_level", "type": "select_one", "choices": "education",
         "relevant": "${age} >= 16 and ${age} <= 30"},
        {"name": "in_training", "type": "select_one", "choices": "yes_no",
         "relevant": "${age} >= 16 and ${age} <= 30"},
        {"name": "attends_school", "type": "select_one", "choices": "yes_no",
         "relevant": "${age} >= 3 and ${age} < 16", "required": True},
        {"name": "stunted", "type": "select_one", "choices": "yes_no", "relevant": "${age} < 16"},
        {"name": "works", "type": "select_one", "choices": "yes_no",
         "relevant": "${age} >= 15 and ${age} < 60", "required": True},
        {"name": "wage_without_contract", "type": "select_one", "choices": "yes_no",
         "relevant": "${works} = 'yes'"},
        {"name": "unemployed", "type": "select_one", "choices": "yes_no",
         "relevant": "${works} = 'no'"},
        {"name": "monthly_income", "type": "decimal", "constraint": ". >= 0"},
        {"name": "disability", "type": "select_one", "choices": "yes_no"},
        {"name": "monthly_allowance", "type": "select_one", "choices": "yes_no",
         "relevant": "${disability} = 'yes' or ${age} >= 60"},
        {"name": "uses_phone", "type": "select_one", "choices": "yes_no"},
        {"name": "note_member", "type": "note", "label": "—"},
        {"name": "is_child", "type": "calculate", "calculation": "if(${age} < 16, 1, 0)"},
        {"name": "is_dependent", "type": "calculate",
         "calculation": "if(${age} < 16 or ${monthly_allowance} = 'yes', 1, 0)"},
        {"name": "insurance_deprived", "type": "calculate",
         "calculation": "if(${age} >= 6 and ${has_health_insurance} = 'no', 1, 0)"},
        {"name": "school_deprived", "type": "calculate",
         "calculation": "if(${age} >= 3 and ${age} < 16 and ${attends_school} = 'no', 1, 0)"},
        {"name": "employment_deprived", "type": "calculate",
         "calculation": "if(${unemployed} = 'yes' or ${wage_without_contract} = 'yes', 1, 0)"},
    ]
    return {
        "form_id": "bench-household",
        "version": "1",
        "title": {"vi": "Phiếu rà soát (bench)", "en": "Review (bench)"},
        "default_language": "vi",
        "parameters": {"income_line_rural": 1500000, "income_line_urban": 2000000},
        "choices": {
            "yes_no": yes_no,
            "sex": [{"value": "male"}, {"value": "female"}],
            "relation": [{"value": v} for v in ("head", "spouse", "child", "parent", "other")],
            "ethnicity": [{"value": f"e{i:02d}"} for i in range(1, 55)],
            "education": [{"value": v} for v in ("none", "primary", "lower", "upper", "vocational")],
            "area": [{"value": "rural"}, {"value": "urban"}],
        },
        "fields": [
            {"name": "household_code", "type": "text", "required": True},
            {"name": "head_name", "type": "text", "required": True},
            {"name": "area_type", "type": "select_one", "choices": "area", "required": True},
            {"name": "location", "type": "geopoint"},
            {"name": "members_count", "type": "integer", "required": True,
             "constraint": ". >= 1 and . <= 30"},
            {"name": "members", "type": "repeat", "repeat_count": "${members_count}",
             "fields": [{"name": "member", "type": "group", "fields": member_fields}]},
            {"name": "floor_area", "type": "decimal", "constraint": ". > 0"},
            {"name": "water_safe", "type": "select_one", "choices": "yes_no", "required": True},
            {"name": "latrine_hygienic", "type": "select_one", "choices": "yes_no", "required": True},
            {"name": "house_photo", "type": "image"},
            {"name": "total_income", "type": "calculate", "calculation": "sum(${monthly_income})"},
            {"name": "income_per_person", "type": "calculate",
             "calculation": "round(${total_income} div ${members_count}, 0)"},
            {"name": "income_line", "type": "calculate",
             "calculation": "if(${area_type} = 'urban', ${param:income_line_urban}, ${param:income_line_rural})"},
            {"name": "d_employment", "type": "calculate", "calculation": "if(sum(${employment_deprived}) > 0, 1, 0)"},
            {"name": "d_dependents", "type": "calculate",
             "calculation": "if(sum(${is_dependent}) * 2 > ${members_count}, 1, 0)"},
            {"name": "d_health_insurance", "type": "calculate", "calculation": "if(sum(${insurance_deprived}) > 0, 1, 0)"},
            {"name": "d_school", "type": "calculate", "calculation": "if(sum(${school_deprived}) > 0, 1, 0)"},
            {"name": "d_housing_area", "type": "calculate",
             "calculation": "if(${floor_area} div ${members_count} < 8, 1, 0)"},
            {"name": "d_water", "type": "calculate", "calculation": "if(${water_safe} = 'no', 1, 0)"},
            {"name": "d_latrine", "type": "calculate", "calculation": "if(${latrine_hygienic} = 'no', 1, 0)"},
            {"name": "deprivation_count", "type": "calculate",
             "calculation": "${d_employment} + ${d_dependents} + ${d_health_insurance} + ${d_school} + ${d_housing_area} + ${d_water} + ${d_latrine}"},
            {"name": "classification", "type": "calculate",
             "calculation": "if(${income_per_person} <= ${income_line}, if(${deprivation_count} >= 3, 'poor', 'near_poor'), 'not_poor')"},
        ],
        "outputs": {
            "classification": "classification", "income_per_person": "income_per_person",
            "deprivation_count": "deprivation_count", "household_code": "household_code",
            "head_name": "head_name",
            "deprivations": {"employment": "d_employment", "dependents": "d_dependents",
                             "health_insurance": "d_health_insurance"},
        },
    }


def synthetic_household(members: int, seed: int = 7) -> dict:
    rnd = random.Random(seed)
    rows = []
    for i in range(members):
        age = rnd.randint(0, 90)
        m = {"member_name": f"Nguyễn Văn {i}", "sex": rnd.choice(["male", "female"]),
             "birth_date": f"{2026 - age}-03-01", "age": age,
             "relation": "head" if i == 0 else "child", "ethnicity": "e01",
             "monthly_income": float(rnd.randint(0, 3_000_000)), "disability": "no",
             "uses_phone": "yes"}
        if age >= 14:
            m["national_id"] = "001090012345"
        if age >= 6:
            m["has_health_insurance"] = rnd.choice(["yes", "no"])
        if 16 <= age <= 30:
            m["education_level"] = "upper"
            m["in_training"] = "no"
        if 3 <= age < 16:
            m["attends_school"] = "yes"
        if age < 16:
            m["stunted"] = "no"
        if 15 <= age < 60:
            m["works"] = rnd.choice(["yes", "no"])
            m["wage_without_contract" if m["works"] == "yes" else "unemployed"] = "no"
        if age >= 60:
            m["monthly_allowance"] = "no"
        rows.append(m)
    return {"household_code": "HH-0001", "head_name": "Nguyễn Thị Hoà", "area_type": "rural",
            "location": {"lat": 21.0278, "lon": 105.8342, "accuracy": 12.5},
            "members_count": members, "members": rows, "floor_area": 60.0,
            "water_safe": "yes", "latrine_hygienic": "no", "house_photo": "sha256:" + "ab" * 32}


def household_from_cases(path: Path, members: int) -> dict | None:
    """A household built from the bundled worked cases (their `base` and member templates)."""
    cases = path.parent / "cases" / f"{path.stem}.cases.json"
    if not cases.exists():
        return None
    book = json.loads(cases.read_text(encoding="utf-8"))
    templates = book.get("members", {})
    if "base" not in book or not templates:
        return None
    heads = [t for t in templates.values() if t.get("relation") == "head"]
    others = [t for t in templates.values() if t.get("relation") != "head"]
    rows = [dict(heads[0])] if heads else []
    while len(rows) < members and others:
        rows.append(dict(others[len(rows) % len(others)]))
    answers = dict(book["base"], members=rows[:members])
    for key in ("member_count", "members_count", "household_size"):
        if key in answers:
            answers[key] = len(answers["members"])
    return answers


def prune(form: FormDefinition, answers: dict) -> dict:
    """Drop what the form rejects (irrelevant or out-of-range answers) until it settles, so the
    timing is of a plausible household, not of error reporting."""
    for _ in range(5):
        result = evaluate_submission(form, answers, today=TODAY)
        bad = [p.path for p in result.errors
               if p.code in ("not_relevant", "constraint", "invalid_choice", "invalid_value")]
        if not bad:
            break
        for path in bad:
            *parents, last = path.split("/")
            node = answers
            for part in parents:
                node = node[int(part)] if part.isdigit() else node[part]
            node.pop(last, None)
    return answers


def household_for(form: FormDefinition, members: int) -> dict | None:
    """A plausible household for an arbitrary form: answer every answerable field simply."""
    from forms.definition import INPUT_TYPES

    def value_for(f):
        t = f.type
        if t in ("select_one", "select_multiple"):
            first = form.choices[f.choices][0].value
            return first if t == "select_one" else [first]
        return {"text": "Nguyễn", "integer": 1, "decimal": 1.5, "date": "2000-01-01",
                "datetime": "2026-09-01T08:00:00+07:00", "geopoint": {"lat": 21.0, "lon": 105.8},
                "image": "sha256:" + "cd" * 32}.get(t)

    def fill(fields, n):
        out = {}
        for f in fields:
            if f.type == "group":
                out.update(fill(f.fields, n))
            elif f.type == "repeat":
                out[f.name] = [fill(f.fields, n) for _ in range(n)]
            elif f.type in INPUT_TYPES and not f.read_only:
                out[f.name] = value_for(f)
        return out

    return prune(form, fill(form.fields, members))


def timings(fn, rounds: int) -> tuple[float, float]:
    samples = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    samples.sort()
    return statistics.median(samples) * 1e3, samples[int(len(samples) * 0.95) - 1] * 1e3


def bench(name: str, doc: dict, answers: dict | None, members: int, rounds: int) -> None:
    from forms.expressions.compiler import _compile_cached

    def compile_cold():
        _compile_cached.cache_clear()  # measure real compilation, not the source-text cache
        return load_form(doc)

    form = load_form(doc)
    if answers is None:
        answers = household_for(form, members)
    result = evaluate_submission(form, answers, today=TODAY)
    fields = sum(1 for _ in form.iter_fields())
    c_med, c_p95 = timings(compile_cold, max(20, rounds // 10))
    e_med, e_p95 = timings(lambda: evaluate_submission(form, answers, today=TODAY), rounds)
    print(f"{name}: {fields} fields, {members} members, {len(result.errors)} errors in the sample")
    if result.errors:
        for p in result.errors[:5]:
            print(f"    {p}")
    print(f"  load_form (compile)     median {c_med:8.3f} ms   p95 {c_p95:8.3f} ms")
    print(f"  evaluate_submission     median {e_med:8.3f} ms   p95 {e_p95:8.3f} ms")
    print(f"  outputs: {json.dumps(result.outputs, ensure_ascii=False)}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=500)
    ap.add_argument("--members", type=int, default=30)
    ap.add_argument("--form", type=Path, action="append", help="a form JSON to benchmark")
    args = ap.parse_args(argv)
    paths = args.form or sorted((ROOT / "forms" / "bundled").glob("household-review-*.json"))
    for path in paths:
        doc = json.loads(path.read_text(encoding="utf-8"))
        answers = household_from_cases(path, args.members)
        if answers is not None:
            answers = prune(load_form(doc), answers)
        bench(path.name, doc, answers, args.members, args.rounds)
    bench("synthetic (25 fields per member)", synthetic_form(),
          synthetic_household(args.members), args.members, args.rounds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
