"""Field-level three-way merge of a household record.

The server keeps one household record: the latest merged answers (``current``) at some
revision R. A phone's visit started from revision B (``base``: the answers at B; None when the
phone created the household) and sent ``incoming``. ``merge_household`` decides the new
record:

=====================================  ===================================================
case                                   result
=====================================  ===================================================
``current`` is None (new household)    ``incoming`` as-is; ``fast_forward``
``base`` == ``current`` (the phone     ``incoming`` as-is; ``fast_forward``; changed paths =
started from the latest revision)      the diff current -> incoming
otherwise, per field path:
  changed by the phone only            incoming value
  changed on the server side only      current value
  changed by both, to equal values     that value
  changed by both, differently         **current value kept**, and a ``FieldConflict``
                                       (base, current, incoming) for a supervisor to decide
=====================================  ===================================================

"Changed" compares canonical values (``canonjson.canonical``: key order, NFC/NFD and
``1``/``1.0`` are not changes, ``true`` vs ``1`` is) and an absent field equals ``None``, so
removing an answer is a change to None. A field whose merged value is None is left out of a
three-way result. ``base`` None with a ``current`` present means "no common ancestor": every
field both sides hold with different values is a conflict, nothing is overwritten.

Nothing the phone sent is lost: each of its changes is either in the merged answers or in a
conflict (and the caller stores the whole submission besides).

Fields and paths
----------------
Answers are flat per scope (groups are transparent); a value that is not a keyed repeat is one
field, whatever its shape (a geopoint's dict, a multi-select's list, a repeat's whole list).
The path of a top-level field is its name.

Keyed repeats: with ``keyed_repeats={"members": "member_id"}`` (repeat paths without indexes,
so ``"members/illnesses"`` names a repeat nested in ``members``) the list is merged instance
by instance, matched by the key's value. Paths: ``members[member_id=abc]`` for a whole
instance, ``members[member_id=abc]/age`` for a field in it. An instance added on either side is
kept; removed on one side and unchanged on the other is removed; removed on one side and
modified on the other is a conflict on the instance path (current kept); modified on both is
merged field by field. A list that cannot be keyed (an instance that is not an object, lacks
the key, has a key that is not a string or int, or repeats a key) is merged as one field.

Order of a keyed repeat (chosen so that two phones' independent changes give the same list
whichever arrives first):

* if only one side changed the list at all, that side's list is taken as-is;
* the instances that were in ``base`` keep the current order, unless only the phone reordered
  them (the relative order of the instances present on all three sides), then the phone's
  order; both reordering differently is a conflict on ``<repeat>/@order`` (key lists; current
  kept);
* a new instance (not in base) goes after the nearest base instance before it in the list it
  came from (or first when there is none); new instances after the same one are sorted by key.

``changed_paths`` lists, sorted, where the merged answers differ from ``current`` (from an
empty record when current is None), in the same path syntax; ``<repeat>/@order`` appears when
only the order of a keyed repeat's instances changed. ``conflicts`` are sorted by path. The
result shares no objects with the arguments.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from canonjson import canonical, canonical_json

__all__ = ["FieldConflict", "MergeResult", "answers_equal", "carry_withheld", "diff_paths", "merge_household"]

ORDER = "@order"
_UNKEYED = object()  # a repeat whose lists cannot be matched by key: merged as one field


@dataclass(frozen=True)
class FieldConflict:
    path: str
    base: Any
    current: Any
    incoming: Any


@dataclass(frozen=True)
class MergeResult:
    answers: dict
    changed_paths: tuple[str, ...]
    conflicts: tuple[FieldConflict, ...]
    fast_forward: bool


# --------------------------------------------------------------------------- comparing values


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _fp(value: Any) -> bytes:
    """A fingerprint: equal iff the values are the same answer (absent fields = None)."""
    return canonical_json(_strip(canonical(value)))


def answers_equal(a: Any, b: Any) -> bool:
    """The same answers: canonical equality with absent fields and None-valued ones alike."""
    return _fp(a) == _fp(b)


def _key_order(key: Any) -> str:
    return json.dumps(key)


def _instances(value: Any, key: str) -> dict[Any, Mapping] | None:
    """The instances of a keyed repeat by key, in list order; None when it cannot be keyed."""
    if value is None:
        return {}
    if not isinstance(value, list):
        return None
    out: dict[Any, Mapping] = {}
    for inst in value:
        if not isinstance(inst, Mapping):
            return None
        k = inst.get(key)
        if isinstance(k, bool) or not isinstance(k, str | int) or k in out:
            return None
        out[k] = inst
    return out


def _child(schema: str, name: str) -> str:
    return f"{schema}/{name}" if schema else name


def _no_answer(value: Any) -> bool:
    return value is None or value == "" or value == []


def carry_withheld(base: Mapping | None, incoming: Mapping, *, withheld: frozenset[str] | set[str],
                   keyed_repeats: Mapping[str, str] | None = None) -> dict:
    """``incoming`` with the answers the phone never received put back from ``base``.

    ``withheld`` names answer paths (``head_cccd``, ``members/cccd``) that the pull does not send
    (``forms.prefill``): a visit made from that prefill has no answer there unless the enumerator
    typed one, and that absence means "not asked again", not "erase it". So where ``incoming``
    has no answer at such a path and ``base`` has one, the base's answer is taken; an answer the
    phone did send wins. Inside a repeat, instances are matched by their key (``keyed_repeats``);
    in a repeat without a key nothing is carried (its instances cannot be matched).
    """
    out = copy.deepcopy(dict(incoming))
    if not base or not withheld:
        return out
    keyed = dict(keyed_repeats or {})
    for path in sorted(withheld):
        _carry(base, out, path.split("/"), "", keyed)
    return out


def _carry(base: Mapping, incoming: dict, parts: list[str], schema: str, keyed: dict) -> None:
    name = parts[0]
    if len(parts) == 1:
        if _no_answer(incoming.get(name)) and not _no_answer(base.get(name)):
            incoming[name] = copy.deepcopy(base[name])
        return
    repeat = _child(schema, name)
    key = keyed.get(repeat)
    instances = _instances(base.get(name), key) if key is not None else None
    if not instances or not isinstance(incoming.get(name), list):
        return
    for inst in incoming[name]:
        if not isinstance(inst, dict):
            continue
        k = inst.get(key)
        if not isinstance(k, bool) and isinstance(k, str | int) and k in instances:
            _carry(instances[k], inst, parts[1:], repeat, keyed)


# --------------------------------------------------------------------------- diff


def diff_paths(old: Mapping | None, new: Mapping | None, *,
               keyed_repeats: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """Sorted paths where ``new`` differs from ``old`` (None = empty record)."""
    return tuple(change.path for change in diff(old, new, keyed_repeats=keyed_repeats))


@dataclass(frozen=True)
class FieldChange:
    path: str
    before: Any  # None: absent
    after: Any


def diff(old: Mapping | None, new: Mapping | None, *,
         keyed_repeats: Mapping[str, str] | None = None) -> tuple[FieldChange, ...]:
    """Field by field, what changed from ``old`` to ``new``, sorted by path, in the paths of
    ``diff_paths``: a keyed repeat's members are matched by their key, so a member added or
    removed is one change of the whole instance and an edited member's fields are changes of
    their own; ``<repeat>/@order`` carries the keys in their old and new order."""
    keyed = dict(keyed_repeats or {})
    out: list[FieldChange] = []
    _diff_values(old or {}, new or {}, "", "", keyed, out)
    return tuple(sorted(out, key=lambda c: c.path))


def _diff_values(old: Mapping, new: Mapping, prefix: str, schema: str, keyed: dict, out: list) -> None:
    for name in dict.fromkeys([*old, *new]):
        path, rp = prefix + name, _child(schema, name)
        ov, nv = old.get(name), new.get(name)
        key = keyed.get(rp)
        oi = _instances(ov, key) if key else None
        ni = _instances(nv, key) if key else None
        if oi is None or ni is None:
            if _fp(ov) != _fp(nv):
                out.append(FieldChange(path, copy.deepcopy(ov), copy.deepcopy(nv)))
            continue
        for k in dict.fromkeys([*oi, *ni]):
            ipath = f"{path}[{key}={k}]"
            if k not in oi or k not in ni:
                out.append(FieldChange(ipath, copy.deepcopy(oi.get(k)), copy.deepcopy(ni.get(k))))
            elif _fp(oi[k]) != _fp(ni[k]):
                _diff_values(oi[k], ni[k], ipath + "/", rp, keyed, out)
        common_old, common_new = [k for k in oi if k in ni], [k for k in ni if k in oi]
        if common_old != common_new:
            out.append(FieldChange(f"{path}/{ORDER}", common_old, common_new))


# --------------------------------------------------------------------------- merge


@dataclass
class _Merger:
    keyed: dict[str, str]
    conflicts: list[FieldConflict] = field(default_factory=list)

    def conflict(self, path: str, base: Any, current: Any, incoming: Any) -> None:
        self.conflicts.append(FieldConflict(path, copy.deepcopy(base), copy.deepcopy(current),
                                            copy.deepcopy(incoming)))

    def scope(self, b: Mapping, c: Mapping, i: Mapping, prefix: str, schema: str) -> dict:
        out: dict[str, Any] = {}
        for name in dict.fromkeys([*c, *i, *b]):
            path, rp = prefix + name, _child(schema, name)
            bv, cv, iv = b.get(name), c.get(name), i.get(name)
            key = self.keyed.get(rp)
            merged = self.repeat(bv, cv, iv, path, rp, key) if key else _UNKEYED
            if merged is _UNKEYED:
                merged = self.value(bv, cv, iv, path)
            if merged is not None:
                out[name] = merged
        return out

    def value(self, bv: Any, cv: Any, iv: Any, path: str) -> Any:
        fb, fc, fi = _fp(bv), _fp(cv), _fp(iv)
        if fi == fb or fc == fi:
            return cv
        if fc == fb:
            return iv
        self.conflict(path, bv, cv, iv)
        return cv

    def repeat(self, bv: Any, cv: Any, iv: Any, path: str, rp: str, key: str) -> Any:
        """Instance-by-instance merge; ``_UNKEYED`` when a list cannot be keyed."""
        B, C, I = _instances(bv, key), _instances(cv, key), _instances(iv, key)
        if B is None or C is None or I is None:
            return _UNKEYED
        fb, fc, fi = _fp(bv or []), _fp(cv or []), _fp(iv or [])
        if fi == fb or fc == fi:  # one side changed nothing: the other's list as it is
            return cv
        if fc == fb:
            return iv
        kept: dict[Any, Any] = {}
        for k in sorted(dict.fromkeys([*B, *C, *I]), key=_key_order):
            ipath = f"{path}[{key}={k}]"
            bi, ci, ii = B.get(k), C.get(k), I.get(k)
            fb, fc, fi = _fp(bi), _fp(ci), _fp(ii)
            if fi == fb or fc == fi:
                merged = ci
            elif fc == fb:
                merged = ii
            elif ci is None or ii is None:  # removed on one side, modified on the other
                self.conflict(ipath, bi, ci, ii)
                merged = ci
            else:
                merged = self.scope(bi or {}, ci, ii, ipath + "/", rp)
            if merged is not None:
                kept[k] = merged
        return [kept[k] for k in self.order(B, C, I, kept, path)]

    def order(self, B: dict, C: dict, I: dict, kept: dict, path: str) -> list:
        common = [k for k in B if k in C and k in I]
        in_common = set(common)
        c_order = [k for k in C if k in in_common]
        i_order = [k for k in I if k in in_common]
        skeleton = [k for k in C if k in B and k in kept]
        if c_order == common and i_order != common:  # only the phone reordered
            phone = iter(i_order)
            skeleton = [next(phone) if k in in_common else k for k in skeleton]
        elif c_order != common and i_order != common and c_order != i_order:
            self.conflict(f"{path}/{ORDER}", common, c_order, i_order)
        anchors = set(skeleton)
        groups: dict[Any, list] = {}
        for source in (C, I):
            anchor = None
            for k in source:
                if k in anchors:
                    anchor = k
                elif k not in B and k in kept and not (source is I and k in C):
                    groups.setdefault(anchor, []).append(k)
        for members in groups.values():
            members.sort(key=_key_order)
        order = list(groups.get(None, ()))
        for k in skeleton:
            order.append(k)
            order.extend(groups.get(k, ()))
        return order


def merge_household(base: Mapping | None, current: Mapping | None, incoming: Mapping, *,
                    keyed_repeats: Mapping[str, str] | None = None) -> MergeResult:
    """Merge a phone's ``incoming`` answers, made from ``base``, into the ``current`` record."""
    keyed = dict(keyed_repeats or {})
    if current is None or (base is not None and answers_equal(base, current)):
        answers = copy.deepcopy(dict(incoming))
        return MergeResult(answers, diff_paths(current, answers, keyed_repeats=keyed), (), True)
    merger = _Merger(keyed)
    answers = copy.deepcopy(merger.scope(base or {}, current, incoming, "", ""))
    conflicts = tuple(sorted(merger.conflicts, key=lambda c: c.path))
    return MergeResult(answers, diff_paths(current, answers, keyed_repeats=keyed), conflicts, False)
