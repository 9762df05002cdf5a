"""Problems: one finding about a form definition or a submission, with a stable code.

A ``Problem`` names *where* (``path``, JSON-pointer-like: ``fields/3/fields/0/constraint``
for a definition, ``members/2/age`` for an answer, ``survey/row 12/type`` for an XLSForm),
*what* (``code``, stable snake_case that clients may switch on) and a human ``message``.
Constraint failures also carry ``messages``: the form's message in every language it has.

The codes are a catalogue: add new ones, never rename or reuse one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = [
    "DEFINITION_CODES",
    "SUBMISSION_CODES",
    "XLSFORM_CODES",
    "FormDefinitionError",
    "Problem",
]


# Codes raised while loading a form definition (``load_form``).
DEFINITION_CODES: Mapping[str, str] = MappingProxyType(
    {
        "invalid_value": "a value has the wrong JSON type, format or range",
        "missing_key": "a required key is absent",
        "unknown_key": "a key the form language does not know",
        "key_not_allowed": "a known key used where it has no meaning (e.g. repeat_count on a text field)",
        "unknown_type": "a field type the form language does not know",
        "invalid_name": "a field, list, parameter or choice key name that breaks the naming rule",
        "duplicate_name": "two fields (or lists, or output slots) with one name in one scope",
        "duplicate_choice": "two choices with one value in one list",
        "invalid_language": "a label map whose language is not a language tag, or not declared in `languages`",
        "unknown_reference": "${name} names no field visible from the expression",
        "ambiguous_reference": "${name} matches fields in two different repeats",
        "invalid_reference": "${name} names something that has no value (a group, a note) or `.` where there is no current answer",
        "unknown_parameter": "${param:NAME} names no parameter of the form",
        "unknown_choice_key": "a choice_filter reads a choice key no choice in its list has",
        "calculation_cycle": "calculations, dynamic defaults or relevance conditions depend on each other in a loop",
        "missing_choice_list": "a select field names a choice list that does not exist",
        "empty_choice_list": "a select field's choice list has no choices",
        "expression_syntax": "an expression does not parse",
        "too_many": "more fields, choices, languages or parameters than a form may have",
        "too_deep": "groups and repeats nested deeper than allowed, or a value nested too deeply",
        "too_large": "a string longer than allowed",
    }
)

# Codes found while validating a submission (``evaluate_submission``).
SUBMISSION_CODES: Mapping[str, str] = MappingProxyType(
    {
        "invalid_answers": "the answers are not a JSON object",
        "unknown_field": "an answer key that is no field of this form (in this scope)",
        "invalid_type": "an answer of the wrong JSON type (e.g. \"3\" or 1.5 for an integer)",
        "invalid_value": "an answer of the right type but a wrong format or out of range",
        "invalid_choice": "a select value not in its list, or filtered out by choice_filter",
        "duplicate_value": "a value given twice in one select_multiple answer",
        "required": "a required, relevant field has no answer",
        "not_relevant": "an answer to a field (or repeat) that is not relevant",
        "constraint": "an answer fails its field's constraint",
        "read_only": "an answer to a read-only field or a note",
        "repeat_count": "a repeat has a different number of instances from its repeat_count",
        "too_many": "more repeat instances or longer text than a submission may have",
        "evaluation_error": "an expression of the form failed on these answers (a form defect)",
    }
)

# Codes found while converting an XLSForm (``xlsform_to_form``); definition codes apply too.
XLSFORM_CODES: Mapping[str, str] = MappingProxyType(
    {
        "not_xlsx": "the bytes are not an .xlsx workbook",
        "too_large": "the workbook unpacks to more than allowed (zip bomb guard) or has too many rows",
        "missing_sheet": "no `survey` sheet",
        "missing_column": "a sheet lacks a column it needs (e.g. `type` in survey)",
        "unknown_type": "a survey type the converter does not know",
        "unmatched_group": "begin/end group or repeat that do not pair up",
        "invalid_value": "a cell value that cannot be converted",
        "missing_key": "a required cell or setting is empty",
        "unknown_column": "a column the converter does not know (survey sheet)",
        "xml_dtd": "a part of the workbook declares a DTD (<!DOCTYPE>), which could declare entities; refused unparsed",
        "unreadable_sheet": "a sheet's XML is damaged and cannot be parsed",
    }
)


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding: where, a stable code, and a message for people."""

    path: str
    code: str
    message: str
    # Language -> message, when the form supplies one (constraint_message, required_message).
    messages: Mapping[str, str] | None = field(default=None, compare=False, hash=False)

    def to_dict(self) -> dict:
        out = {"path": self.path, "code": self.code, "message": self.message}
        if self.messages:
            out["messages"] = dict(self.messages)
        return out

    def __str__(self) -> str:
        where = self.path or "(document)"
        return f"{where}: [{self.code}] {self.message}"


class FormDefinitionError(ValueError):
    """A form definition (JSON or XLSForm) is not valid; ``problems`` lists every finding."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems: list[Problem] = list(problems)
        shown = "; ".join(str(p) for p in self.problems[:5])
        more = f" (and {len(self.problems) - 5} more)" if len(self.problems) > 5 else ""
        super().__init__(f"{len(self.problems)} problem(s) in form definition: {shown}{more}")

    def to_list(self) -> list[dict]:
        return [p.to_dict() for p in self.problems]
