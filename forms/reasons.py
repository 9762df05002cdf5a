"""Why a household got its classification: ``explain(form, result, parameters)``.

A commune must be able to defend each result at the village meeting and in the notice to the
household. ``explain`` turns a computed submission into plain data:

- ``income``: income per person against the poverty line that applied (rural or urban, which
  standard, the province's line when an override changed it), and for the average living
  standard the income that rule reads, its line and whether the household is one the rule covers;
- ``deprivations``: each deprived indicator, with the answers that caused it (per member for
  the indicators judged member by member);
- ``sentence``: the same in one paragraph, in Vietnamese and in English.

It is driven by the form, never by field names written here: ``outputs`` (classification,
income per person, the deprivation flags) and the form's ``reasons`` mapping (which field holds
the line, which answers explain which indicator; see ``docs/forms.md``). Published versions
are immutable, so the bundled versions published before ``reasons`` existed (household-review
2022.1 and 2027.1) get theirs from ``forms/bundled/reasons/``, matched by form, version and
sha256 and checked against that form as if it were part of it. Any other form without a
mapping still gets its class, income and the list of deprived indicators.

Numbers are never rounded for a decision here; rounding is for display: money is shown to the
đồng, and to the hundredth of a đồng when rounding would make it look equal to the line it was
compared with (1,500,000.33 is shown as such, above a line of 1,500,000).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from forms.definition import FormDefinition, load_form, text_in

SUPPLEMENTS = Path(__file__).resolve().parent / "bundled" / "reasons"

__all__ = ["LANGUAGES", "explain"]

LANGUAGES = ("vi", "en")

_CLASS = {
    "vi": {"poor": "Hộ nghèo", "near_poor": "Hộ cận nghèo", "average": "Hộ có mức sống trung bình",
           "not_poor": "Hộ không nghèo, không cận nghèo"},
    "en": {"poor": "Poor household", "near_poor": "Near-poor household",
           "average": "Household with an average living standard", "not_poor": "Neither poor nor near-poor"},
}
_AREA = {"vi": {"rural": "khu vực nông thôn", "urban": "khu vực thành thị"},
         "en": {"rural": "rural", "urban": "urban"}}
_MESSAGES = {
    "vi": {
        "income": "Thu nhập bình quân đầu người/tháng {income} đồng, {cmp} {line_name} {line} đồng{standard}.",
        "income_only": "Thu nhập bình quân đầu người/tháng {income} đồng.",
        "at_or_below": "không vượt",
        "above": "cao hơn",
        "line_name": "chuẩn nghèo {area}",
        "line_name_province": "chuẩn nghèo {area} do tỉnh quy định",
        "national": "chuẩn quốc gia {line} đồng",
        "average_band": ("Thu nhập {income} đồng/người/tháng, trên chuẩn nghèo và không vượt chuẩn mức sống "
                         "trung bình {line} đồng."),
        "average_in": ("Là hộ làm nông nghiệp, lâm nghiệp, ngư nghiệp hoặc diêm nghiệp; thu nhập không gồm trợ cấp, "
                       "trợ giúp xã hội từ ngân sách nhà nước là {income} đồng/người/tháng, trên chuẩn nghèo và không "
                       "vượt chuẩn mức sống trung bình {line} đồng."),
        "average_not_farm": ("Không phải hộ làm nông nghiệp, lâm nghiệp, ngư nghiệp hoặc diêm nghiệp nên không xét "
                             "mức sống trung bình."),
        "average_above": ("Thu nhập không gồm trợ cấp, trợ giúp xã hội từ ngân sách nhà nước là {income} "
                          "đồng/người/tháng, cao hơn chuẩn mức sống trung bình {line} đồng."),
        "average_below": ("Thu nhập không gồm trợ cấp, trợ giúp xã hội từ ngân sách nhà nước là {income} "
                          "đồng/người/tháng, không cao hơn chuẩn nghèo nên không thuộc khoảng mức sống trung bình."),
        "average_above_plain": "Thu nhập {income} đồng/người/tháng, cao hơn chuẩn mức sống trung bình {line} đồng.",
        "average_unpublished": "Chuẩn mức sống trung bình của giai đoạn này chưa được công bố nên không xét.",
        "no_deprivation": "Không thiếu hụt chỉ số nào.",
        "deprivations": "Thiếu hụt {count} chỉ số: {items}.",
        "deprivations_poor": "Thiếu hụt {count} chỉ số (từ {threshold} chỉ số trở lên là hộ nghèo): {items}.",
        "deprivations_near_poor": "Thiếu hụt {count} chỉ số (dưới {threshold} chỉ số nên chưa là hộ nghèo){items}.",
        "not_given": "không ghi",
        "yes": "có",
        "no": "không",
    },
    "en": {
        "income": "Income per person per month {income} VND, {cmp} the {line_name} of {line} VND{standard}.",
        "income_only": "Income per person per month {income} VND.",
        "at_or_below": "at or below",
        "above": "above",
        "line_name": "{area} poverty line",
        "line_name_province": "{area} poverty line set by the province",
        "national": "national line {line} VND",
        "average_band": ("Income of {income} VND per person per month is above the poverty line and at or below "
                         "the average living standard line of {line} VND."),
        "average_in": ("A farm, forestry, fishery or salt-making household whose income without state social "
                       "allowances, {income} VND per person per month, is above the poverty line and at or below "
                       "the average living standard line of {line} VND."),
        "average_not_farm": ("Not a farm, forestry, fishery or salt-making household, so the average living "
                             "standard is not judged."),
        "average_above": ("Income without state social allowances, {income} VND per person per month, is above "
                          "the average living standard line of {line} VND."),
        "average_below": ("Income without state social allowances, {income} VND per person per month, is not "
                          "above the poverty line, so it is outside the average living standard band."),
        "average_above_plain": ("Income of {income} VND per person per month is above the average living standard "
                                "line of {line} VND."),
        "average_unpublished": "No average living standard line is published for this standard, so it is not judged.",
        "no_deprivation": "Deprived on no indicator.",
        "deprivations": "Deprived on {count} {indicators}: {items}.",
        "deprivations_poor": "Deprived on {count} {indicators}, {threshold} or more making a household poor: {items}.",
        "deprivations_near_poor": "Deprived on {count} {indicators}, fewer than the {threshold} that make a household poor{items}.",
        "not_given": "not given",
        "yes": "yes",
        "no": "no",
    },
}


def explain(form: FormDefinition, result: Any, parameters: Mapping | None = None) -> dict:
    """The reasons for ``result`` (a ``SubmissionResult``, or a mapping with ``answers`` and
    ``outputs``) of ``form``, computed with ``parameters`` (the effective parameters, or just the
    province's override: either is laid over the form's own). Plain JSON-ready data."""
    answers = _get(result, "answers") or {}
    outputs = _get(result, "outputs") or {}
    params = {**form.parameters, **(parameters or {})}
    spec = form.reasons or supplement(form)
    classification = outputs.get("classification")
    income = _income(form, spec, answers, outputs, params)
    deprivations = _deprivations(form, spec, answers, outputs)
    count = outputs.get("deprivation_count")
    if count is None:
        count = len(deprivations)
    threshold_name = spec.get("deprivation_threshold")
    threshold = params.get(threshold_name) if threshold_name else None
    explanation = {
        "form_id": form.form_id,
        "form_version": form.version,
        "classification": classification,
        "income": income,
        "deprivation_count": count,
        "deprivation_threshold": threshold,
        "deprivations": deprivations,
    }
    explanation["sentence"] = {lang: _sentence(lang, explanation) for lang in LANGUAGES}
    return explanation


def supplement(form: FormDefinition) -> Mapping:
    """The ``reasons`` mapping shipped beside a bundled version published without one (empty
    if none): only for the exact bytes it was written for, and only if it loads with that form."""
    return _supplement(form.form_id, form.version, form.sha256, form.canonical_json())


@functools.lru_cache(maxsize=32)
def _supplement(form_id: str, version: str, sha256: str, canonical: bytes) -> Mapping:
    path = SUPPLEMENTS / f"{form_id}-{version}.json"
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    if (data.get("form_id"), data.get("version"), data.get("sha256")) != (form_id, version, sha256):
        return {}
    return load_form({**json.loads(canonical), "reasons": data["reasons"]}).reasons


# --------------------------------------------------------------------------- the data


def _get(result, key):
    if isinstance(result, Mapping):
        return result.get(key)
    return getattr(result, key, None)


def _labels(form: FormDefinition, label, fallback: str) -> dict:
    """A label in every language of the explanation."""
    if label is None:
        return {lang: fallback for lang in LANGUAGES}
    return {lang: text_in(label, lang, form.default_language) or fallback for lang in LANGUAGES}


def _income(form, spec, answers, outputs, params) -> dict:
    mapping = spec.get("income", {})
    per_person = answers.get(mapping["per_person"]) if "per_person" in mapping else outputs.get("income_per_person")
    area = answers.get(mapping["area_type"]) if "area_type" in mapping else None
    if area is None and "area_type" in form.outputs:
        area = outputs.get("area_type")
    line = answers.get(mapping["line"]) if "line" in mapping else None
    line_parameter = mapping.get("line_parameters", {}).get(area) if area is not None else None
    out: dict[str, Any] = {
        "per_person": per_person,
        "area_type": area,
        "line": line,
        "line_parameter": line_parameter,
        "national_line": form.parameters.get(line_parameter) if line_parameter else None,
        "set_by_province": bool(line_parameter) and params.get(line_parameter) != form.parameters.get(line_parameter),
        "at_or_below_line": _le(per_person, line),
        "standard": _labels(form, spec["standard"], "") if "standard" in spec else None,
        "average": None,
    }
    if "average_line" in mapping:
        average_line = answers.get(mapping["average_line"])
        average_parameter = mapping.get("average_line_parameters", {}).get(area) if area is not None else None
        average_income = answers.get(mapping["average_per_person"]) if "average_per_person" in mapping else per_person
        published = _number(average_line) is not None and _number(line) is not None and average_line > line
        farm = answers.get(mapping["farm_household"]) if "farm_household" in mapping else None
        out["average"] = {
            "per_person": average_income,
            "without_state_social_allowances": "average_per_person" in mapping,
            "line": average_line,
            "line_parameter": average_parameter,
            "set_by_province": (bool(average_parameter)
                                and params.get(average_parameter) != form.parameters.get(average_parameter)),
            "band_published": published,
            "farm_household": farm,
            "above_poverty_line": None if line is None else not _le(average_income, line),
            "at_or_below_average_line": _le(average_income, average_line) if published else None,
        }
    return out


def _number(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        return None
    return value


def _le(a, b):
    a, b = _number(a), _number(b)
    return None if a is None or b is None else a <= b


def _deprivations(form, spec, answers, outputs) -> list[dict]:
    flags = outputs.get("deprivations") or {}
    fields = form.outputs.get("deprivations", {})
    reasons = spec.get("indicators", {})
    out = []
    for indicator, flag in flags.items():
        if not flag:
            continue
        reason = reasons.get(indicator, {})
        dep_field = form.field_at(fields[indicator]) if indicator in fields else None
        label = reason.get("label") or (dep_field.label if dep_field is not None else None)
        item: dict[str, Any] = {"indicator": indicator, "label": _labels(form, label, indicator)}
        if "repeat" in reason:
            members = []
            for index, instance in enumerate(answers.get(reason["repeat"]) or ()):
                if not instance.get(reason["when"]):
                    continue
                members.append({
                    "index": index,
                    "name": instance.get(reason["name"]) if "name" in reason else None,
                    "answers": _answers(form, reason["answers"], instance, reason["repeat"] + "/"),
                })
            item["members"] = members
            item["answers"] = _answers(form, reason.get("household", ()), answers, "")
        else:
            item["answers"] = _answers(form, reason.get("answers", ()), answers, "")
        out.append(item)
    return out


def _answers(form, entries, values: Mapping, prefix: str) -> list[dict]:
    out = []
    for entry in entries:
        if isinstance(entry, str):
            entry = {"field": entry}
        name = entry["field"]
        f = form.field_at(prefix + name)
        value = values.get(name)
        if (value is None or value == "" or value == []) and (f is None or f.relevant is not None):
            continue  # not asked of this household or member: nothing to say
        wanted = entry.get("values")
        if wanted:
            chosen = value if isinstance(value, (list, tuple)) else [value]
            if not any(v in wanted for v in chosen):
                continue
        label = entry.get("label") or (f.label if f is not None else None)
        out.append({
            "field": name,
            "label": _labels(form, label, name),
            "value": list(value) if isinstance(value, tuple) else value,
            "text": {lang: _answer_text(form, f, value, lang) for lang in LANGUAGES},
        })
    return out


def _answer_text(form, f, value, lang: str) -> str:
    if value is None or value == "" or value == []:
        return _MESSAGES[lang]["not_given"]
    if f is not None and f.choices:
        index = form.choice_index.get(f.choices, {})
        items = value if isinstance(value, (list, tuple)) else [value]
        texts = []
        for v in items:
            choice = index.get(v)
            texts.append((text_in(choice.label, lang, form.default_language) if choice is not None and choice.label
                          else None) or str(v))
        return ", ".join(texts)
    if isinstance(value, bool):
        return _MESSAGES[lang]["yes" if value else "no"]
    if isinstance(value, (int, float)):
        return _format_number(value, lang, decimals=None)
    return str(value)


# --------------------------------------------------------------------------- display


def _decimal(value) -> Decimal | None:
    try:
        return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except (InvalidOperation, ValueError, TypeError):
        return None


def _format_number(value, lang: str, decimals: int | None) -> str:
    """Grouped digits (1.500.000,5 in Vietnamese, 1,500,000.5 in English). ``decimals``: round
    half away from zero to that many places and keep them; None: as few as the value needs, at
    most two."""
    d = _decimal(value)
    if d is None or not d.is_finite():
        return str(value)
    places = 2 if decimals is None else decimals
    d = d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    sign = "-" if d < 0 else ""
    whole, _, fraction = f"{abs(d):f}".partition(".")
    if decimals is None:
        fraction = fraction.rstrip("0")
    group, point = (".", ",") if lang == "vi" else (",", ".")
    digits = []
    while len(whole) > 3:
        digits.insert(0, whole[-3:])
        whole = whole[:-3]
    digits.insert(0, whole)
    return sign + group.join(digits) + (point + fraction if fraction else "")


def _money(value, lang: str, *compared) -> str:
    """Money to the đồng, or to the hundredth when rounding would make it equal a line it was
    compared with (so a value above the line never reads as the line itself)."""
    d = _decimal(value) if _number(value) is not None else None
    if d is None:
        return _MESSAGES[lang]["not_given"]
    rounded = d.quantize(Decimal(1), rounding=ROUND_HALF_UP)
    misleading = rounded != d and any(_number(c) is not None and rounded == _decimal(c) for c in compared)
    return _format_number(value, lang, decimals=2 if misleading else 0)


def _sentence(lang: str, e: dict) -> str:
    m = _MESSAGES[lang]
    classification = e["classification"]
    parts = [_CLASS[lang].get(classification, str(classification)) + "."]
    income = e["income"]
    line, per_person = income["line"], income["per_person"]
    if _number(line) is not None and _number(per_person) is not None:
        area = _AREA[lang].get(income["area_type"], str(income["area_type"] or ""))
        line_name = m["line_name_province" if income["set_by_province"] else "line_name"].format(area=area)
        standard = []
        if income["set_by_province"] and _number(income["national_line"]) is not None:
            standard.append(m["national"].format(line=_money(income["national_line"], lang)))
        if income["standard"]:
            standard.append(income["standard"][lang])
        parts.append(m["income"].format(
            income=_money(per_person, lang, line), cmp=m["at_or_below" if income["at_or_below_line"] else "above"],
            line_name=line_name, line=_money(line, lang), standard=f" ({'; '.join(standard)})" if standard else ""))
    elif _number(per_person) is not None:
        parts.append(m["income_only"].format(income=_money(per_person, lang)))
    average = income["average"]
    if average is not None and classification in ("average", "not_poor"):
        parts.append(_average_sentence(m, lang, classification, average, line))
    parts.append(_deprivation_sentence(m, lang, e))
    return " ".join(p for p in parts if p)


def _average_sentence(m, lang, classification, average, line) -> str:
    income, average_line = average["per_person"], average["line"]
    if classification == "average":
        key = "average_in" if average["farm_household"] is not None else "average_band"
        return m[key].format(income=_money(income, lang, line, average_line), line=_money(average_line, lang))
    if not average["band_published"]:
        return m["average_unpublished"]
    if average["farm_household"] == "no":
        return m["average_not_farm"]
    if average["at_or_below_average_line"] is False:
        key = "average_above" if average["without_state_social_allowances"] else "average_above_plain"
        return m[key].format(income=_money(income, lang, average_line), line=_money(average_line, lang))
    if average["above_poverty_line"] is False:
        return m["average_below"].format(income=_money(income, lang, line))
    return ""


def _deprivation_sentence(m, lang, e) -> str:
    items = [_item_text(lang, d) for d in e["deprivations"]]
    count, threshold, classification = e["deprivation_count"], e["deprivation_threshold"], e["classification"]
    indicators = "indicator" if count == 1 else "indicators"  # the Vietnamese messages have no plural
    if not items:
        if classification == "near_poor" and threshold is not None:
            return m["deprivations_near_poor"].format(count=0, indicators=indicators, threshold=threshold, items="")
        return m["no_deprivation"]
    listed = "; ".join(items)
    if classification == "poor" and threshold is not None:
        return m["deprivations_poor"].format(count=count, indicators=indicators, threshold=threshold, items=listed)
    if classification == "near_poor" and threshold is not None:
        return m["deprivations_near_poor"].format(count=count, indicators=indicators, threshold=threshold,
                                                  items=": " + listed)
    return m["deprivations"].format(count=count, indicators=indicators, items=listed)


def _item_text(lang: str, d: dict) -> str:
    label = d["label"][lang]
    if "members" in d:
        people = [", ".join(f"{a['label'][lang]}: {a['text'][lang]}" for a in d["answers"])] if d["answers"] else []
        for member in d["members"]:
            said = ", ".join(f"{a['label'][lang]}: {a['text'][lang]}" for a in member["answers"])
            name = member["name"] or f"#{member['index'] + 1}"
            people.append(f"{name} — {said}" if said else name)
        return f"{label} ({'; '.join(people)})" if people else label
    said = ", ".join(f"{a['label'][lang]}: {a['text'][lang]}" for a in d["answers"])
    return f"{label} ({said})" if said else label
