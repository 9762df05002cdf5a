"""What an evaluation reads: :class:`EvalContext`."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

_EMPTY: Mapping[str, object] = MappingProxyType({})


def _no_answers(name: str) -> object:
    return ""


ChoiceAttrHook = Callable[[str, str, str, "str | None"], object]


@dataclass(slots=True)
class EvalContext:
    """Everything an expression may read. All fields are optional.

    lookup(name) -> value
        Value of ``${name}``, with repeat scoping already applied by the caller: inside a
        repeat instance the sibling's value; from outside, a :class:`Nodeset` of the values
        across instances (flattened through nested repeats). Return raw answer values:
        ``int``/``float``/``str``/``bool``/``datetime.date``/``None`` (missing = empty), a
        ``list`` of strings for a select_multiple answer (it reads as the space-separated
        string, and ``choice-attr`` sees each value), a geopoint mapping, or a ``Nodeset``.
        :class:`forms.expressions.scope.ScopedAnswers` implements this from a form's field
        tree and a submission's answers. Default: every name is empty.
    parameters
        Values of ``${param:NAME}``; a missing name is an evaluation error.
    current
        Value of ``.`` (the answer being validated), raw like a lookup result.
    choice
        The choice being filtered (``{"value": ..., "label": ..., extra keys}``) for bare
        names in a choice_filter; bare ``name`` and ``value`` both read ``choice["value"]``,
        a missing key is empty. ``None`` (default): bare names are an evaluation error.
    today
        The date ``today()`` returns (injected; evaluation never reads the clock).
        ``None``: ``today()`` is an evaluation error.
    position
        1-based index of the innermost current repeat instance, for ``position(..)``.
        ``None``: ``position(..)`` is an evaluation error.
    choice_attr(field_name, value, key, subkey) -> value
        Hook for ``choice-attr()``: the extra key ``key`` of the choice ``value`` of the
        select field ``field_name`` (``[subkey]`` of it when it is a mapping). Return
        ``None``/``""`` when absent. :class:`forms.expressions.scope.ChoiceAttributes`
        implements it from a form's choice lists.
    """

    lookup: Callable[[str], object] = _no_answers
    parameters: Mapping[str, object] = field(default_factory=lambda: _EMPTY)
    current: object = ""
    choice: Mapping[str, object] | None = None
    today: _dt.date | None = None
    position: int | None = None
    choice_attr: ChoiceAttrHook | None = None

    @classmethod
    def from_mapping(cls, answers: Mapping[str, object], **kwargs: object) -> EvalContext:
        """A context whose ``${name}`` reads ``answers[name]`` (flat; no repeat scoping)."""
        get = answers.get
        return cls(lookup=lambda name: get(name, ""), **kwargs)  # type: ignore[arg-type]
