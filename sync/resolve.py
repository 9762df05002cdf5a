"""Applying a supervisor's decision on a merge conflict to the household's answers.

A conflict (``sync.merge.FieldConflict``) names a path in the merge's syntax: ``floor_area``,
``members[member_id=abc]`` (a whole instance of a keyed repeat),
``members[member_id=abc]/age`` (a field in it), ``members/@order`` (the instances' order, as a
list of keys). ``set_path`` writes a chosen value there; ``None`` removes the field or instance.
Pure: returns new answers, never mutates its arguments.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from sync.merge import ORDER

_KEYED = re.compile(r"^(?P<repeat>[A-Za-z_][A-Za-z0-9_]*)\[(?P<key>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>[^\]]*)\]$")


class PathError(ValueError):
    """The path does not name anything that can be set in these answers."""


def _key_matches(instance: Any, key: str, value: str) -> bool:
    return isinstance(instance, Mapping) and str(instance.get(key)) == value


def _set(scope: dict, segments: list[str], value: Any) -> None:
    head, rest = segments[0], segments[1:]
    keyed = _KEYED.match(head)
    if keyed is None:
        if rest == [ORDER]:
            _reorder(scope, head, value)
        elif rest:
            raise PathError(f"{head!r} is not a keyed repeat instance")
        elif value is None:
            scope.pop(head, None)
        else:
            scope[head] = copy.deepcopy(value)
        return
    repeat, key, key_value = keyed["repeat"], keyed["key"], keyed["value"]
    instances = scope.get(repeat)
    if instances is None:
        instances = scope[repeat] = []
    if not isinstance(instances, list):
        raise PathError(f"{repeat!r} is not a repeat")
    position = next((i for i, inst in enumerate(instances) if _key_matches(inst, key, key_value)), None)
    if not rest:
        if value is None:
            if position is not None:
                del instances[position]
        elif position is None:
            instances.append(copy.deepcopy(value))
        else:
            instances[position] = copy.deepcopy(value)
        return
    if position is None:
        raise PathError(f"no instance of {repeat!r} with {key}={key_value}")
    _set(instances[position], rest, value)


def _reorder(scope: dict, repeat: str, keys: Any) -> None:
    instances = scope.get(repeat)
    if not isinstance(instances, list) or not isinstance(keys, list):
        raise PathError(f"{repeat}/@order needs a repeat and a list of keys")
    rank = {str(k): i for i, k in enumerate(keys)}

    def position(instance: Any) -> int:
        for value in (instance.values() if isinstance(instance, Mapping) else ()):
            if str(value) in rank:
                return rank[str(value)]
        return len(rank)

    scope[repeat] = sorted(instances, key=position)


def set_path(answers: Mapping, path: str, value: Any) -> dict:
    """New answers with ``value`` at ``path`` (None removes it)."""
    if not path:
        raise PathError("empty path")
    out = copy.deepcopy(dict(answers))
    _set(out, path.split("/"), value)
    return out
