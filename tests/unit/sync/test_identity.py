"""content_hash: what counts as the same submission content, and what does not."""

from __future__ import annotations

import copy
import unicodedata
import uuid
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from hypothesis import given, reject, settings, strategies as st

from sync.identity import canonical, canonical_json, content_hash

ITEM = {
    "id": "7b0e2f5c-0000-4000-8000-000000000001",
    "form_id": "household-review",
    "form_version": "2026.1",
    "area": "01-00004-v03",
    "household_id": "c51d0000-0000-4000-8000-000000000002",
    "household_rev": None,
    "rev": 1,
    "started_at": "2026-10-02T08:11:00+07:00",
    "finished_at": "2026-10-02T08:40:12+07:00",
    "device_id": "a3c1",
    "answers": {"head_name": "Nguyễn Văn An", "floor_area": 60, "location": {"lat": 21.0285, "lon": 105.8542},
                "members": [{"member_name": "Trần Thị Bình", "birth_year": 1988}],
                "telecom_services": ["mobile", "internet"]},
    "attachments": [{"name": "house_photo", "sha256": "3f2a" * 16, "size": 183422},
                    {"name": "id_card", "sha256": "9b1c" * 16, "size": 1000}],
}
H = content_hash(ITEM)


def changed(**fields):
    item = copy.deepcopy(ITEM)
    item.update(fields)
    return item


def test_is_sha256_hex():
    assert len(H) == 64 and int(H, 16) >= 0 and H == H.lower()


@pytest.mark.parametrize("key, value", [
    ("id", "another-id"), ("rev", 7), ("started_at", "2026-10-03T00:00:00Z"), ("finished_at", None),
    ("device_id", "other-phone"),
])
def test_ignores_identity_revision_timestamps_and_device(key, value):
    assert content_hash(changed(**{key: value})) == H


def test_missing_excluded_fields_are_fine():
    item = {k: v for k, v in ITEM.items() if k not in ("id", "rev", "started_at", "finished_at", "device_id")}
    assert content_hash(item) == H


@pytest.mark.parametrize("key, value", [
    ("form_id", "other-form"), ("form_version", "2027.1"), ("area", "01-00004-v04"),
    ("household_id", "c51d0000-0000-4000-8000-000000000003"), ("household_rev", 1),
    ("answers", {**ITEM["answers"], "floor_area": 61}),
])
def test_covers_each_content_field(key, value):
    assert content_hash(changed(**{key: value})) != H


def test_attachment_order_size_and_hex_case_do_not_matter():
    atts = [dict(a) for a in reversed(ITEM["attachments"])]
    atts[0]["size"] = 1
    atts[1]["sha256"] = atts[1]["sha256"].upper()
    assert content_hash(changed(attachments=atts)) == H


@pytest.mark.parametrize("attachments", [
    [{"name": "house_photo", "sha256": "3f2a" * 16}],  # one removed
    [{"name": "house_photo", "sha256": "9b1c" * 16}, {"name": "id_card", "sha256": "3f2a" * 16}],  # names swapped
    [{"name": "house_photo", "sha256": "3f2b" + "3f2a" * 15}, {"name": "id_card", "sha256": "9b1c" * 16}],
])
def test_attachment_names_and_hashes_count(attachments):
    assert content_hash(changed(attachments=attachments)) != H


def test_missing_attachments_and_answers_count_as_empty():
    assert content_hash(changed(attachments=None)) == content_hash(changed(attachments=[]))
    assert content_hash(changed(answers=None)) == content_hash(changed(answers={}))


def test_integral_floats_are_ints_but_booleans_are_not():
    assert content_hash(changed(answers={"n": 1})) == content_hash(changed(answers={"n": 1.0}))
    assert content_hash(changed(answers={"n": 0})) == content_hash(changed(answers={"n": -0.0}))
    assert content_hash(changed(answers={"n": 1})) != content_hash(changed(answers={"n": True}))
    assert content_hash(changed(answers={"n": 0})) != content_hash(changed(answers={"n": False}))
    assert content_hash(changed(answers={"n": 1.5})) != content_hash(changed(answers={"n": 1}))
    assert content_hash(changed(answers={"n": 1})) != content_hash(changed(answers={"n": "1"}))


def test_null_answer_is_not_a_missing_one_for_the_hash():
    # The hash is byte-exact about what was sent; the merge treats the two alike.
    assert content_hash(changed(answers={"a": None})) != content_hash(changed(answers={}))


def test_nfd_and_nfc_text_hash_alike():
    nfd = {unicodedata.normalize("NFD", k): unicodedata.normalize("NFD", v) if isinstance(v, str) else v
           for k, v in ITEM["answers"].items()}
    nfd["head_name"] = unicodedata.normalize("NFD", "Nguyễn Văn An")
    assert nfd["head_name"] != ITEM["answers"]["head_name"]
    assert content_hash(changed(answers=nfd)) == H


def test_python_values_hash_like_their_json_text():
    hid = uuid.UUID(ITEM["household_id"])
    assert content_hash(changed(household_id=hid)) == H
    assert (content_hash(changed(answers={"d": date(2026, 10, 1)}))
            == content_hash(changed(answers={"d": "2026-10-01"})))
    assert (content_hash(changed(answers={"t": datetime(2026, 10, 1, 1, 2, tzinfo=timezone.utc)}))
            == content_hash(changed(answers={"t": "2026-10-01T01:02:00+00:00"})))
    assert content_hash(changed(answers={"n": Decimal("2.0")})) == content_hash(changed(answers={"n": 2}))
    assert content_hash(changed(answers={"n": Decimal("2.5")})) == content_hash(changed(answers={"n": 2.5}))
    assert content_hash(changed(answers={"l": (1, 2)})) == content_hash(changed(answers={"l": [1, 2]}))


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), Decimal("NaN"), object()])
def test_rejects_what_is_not_json(bad):
    with pytest.raises((ValueError, TypeError)):
        content_hash(changed(answers={"x": bad}))


def test_rejects_keys_that_collide_once_normalised():
    with pytest.raises(ValueError, match="NFC"):
        content_hash(changed(answers={"\u0110\u00f4\u0303": 1, unicodedata.normalize("NFD", "\u0110\u00f4\u0303"): 2}))
    with pytest.raises(TypeError):
        content_hash(changed(answers={1: "x"}))


def test_canonical_json_is_compact_sorted_utf8():
    assert canonical_json({"b": [1.0, "Đ"], "a": None}) == '{"a":null,"b":[1,"Đ"]}'.encode()


# --------------------------------------------------------------------------- properties

scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**60), 2**60),
                    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8))
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)), max_leaves=20)
answers_st = st.dictionaries(st.text(max_size=8), json_values, max_size=6)


def transform(value, *, text=lambda s: s, number=lambda n: n, reverse=False):
    if isinstance(value, dict):
        pairs = [(text(k), transform(v, text=text, number=number, reverse=reverse)) for k, v in value.items()]
        return dict(reversed(pairs) if reverse else pairs)
    if isinstance(value, list):
        return [transform(v, text=text, number=number, reverse=reverse) for v in value]
    if isinstance(value, str):
        return text(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return number(value)
    return value


def valid(answers):
    try:
        canonical(answers)
    except ValueError:  # two keys canonically equivalent: not a submission the server accepts
        reject()


def as_float(n):
    return float(n) if isinstance(n, int) and abs(n) <= 2**53 else n


def as_int(n):
    return int(n) if isinstance(n, float) and n.is_integer() else n


@settings(deadline=None)
@given(answers_st)
def test_key_order_normal_form_and_number_spelling_do_not_change_it(answers):
    valid(answers)
    h = content_hash({**ITEM, "answers": answers})
    for form in ("NFC", "NFD"):
        variant = transform(answers, text=lambda s, f=form: unicodedata.normalize(f, s))
        assert content_hash({**ITEM, "answers": variant}) == h
    assert content_hash({**ITEM, "answers": transform(answers, reverse=True)}) == h
    assert content_hash({**ITEM, "answers": transform(answers, number=as_float)}) == h
    assert content_hash({**ITEM, "answers": transform(answers, number=as_int)}) == h


@settings(deadline=None)
@given(answers_st, st.text(max_size=8), json_values)
def test_any_change_to_an_answer_changes_it(answers, key, value):
    valid(answers)
    nkey = unicodedata.normalize("NFC", key)
    old = {unicodedata.normalize("NFC", k): v for k, v in answers.items()}
    if nkey in old and canonical_json(old[nkey]) == canonical_json(value):
        reject()  # not a change
    new = {k: v for k, v in old.items()}
    new[nkey] = value
    assert content_hash({**ITEM, "answers": new}) != content_hash({**ITEM, "answers": old})
    del new[nkey]
    if nkey in old:
        assert content_hash({**ITEM, "answers": new}) != content_hash({**ITEM, "answers": old})


@settings(deadline=None)
@given(st.lists(st.fixed_dictionaries({"member_id": st.uuids().map(str), "age": st.integers(0, 120),
                                       "name": st.text(max_size=6)}), min_size=1, max_size=5),
       st.data())
def test_a_change_deep_in_a_repeat_changes_it(members, data):
    i = data.draw(st.integers(0, len(members) - 1))
    edited = copy.deepcopy(members)
    edited[i]["age"] += data.draw(st.integers(1, 5))
    assert content_hash({**ITEM, "answers": {"members": members}}) != content_hash({**ITEM, "answers": {"members": edited}})


# --------------------------------------------------------------------------- fast path = original bytes
#
# canonical_json encodes with orjson when it can. Stored hashes must keep matching, so the bytes
# must be those of the original implementation, frozen here verbatim (as of the commit that
# introduced the fast path), for every input, and it must refuse what the original refused.

def _frozen_number(value):
    import math

    if not math.isfinite(value):
        raise ValueError(f"{value!r} is not a JSON number")
    return int(value) if value.is_integer() else value


def _frozen_canonical(value):
    from collections.abc import Mapping
    from datetime import time

    if value is None or value is True or value is False:
        return value
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return _frozen_number(float(value))
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value!r} is not a JSON number")
        return int(value) if value == value.to_integral_value() else _frozen_number(float(value))
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"object keys must be strings, not {type(key).__name__}")
            nkey = unicodedata.normalize("NFC", key)
            if nkey in out:
                raise ValueError(f"two keys are the same text once NFC-normalised: {nkey!r}")
            out[nkey] = _frozen_canonical(item)
        return out
    if isinstance(value, list | tuple):
        return [_frozen_canonical(item) for item in value]
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON data")


def _frozen_canonical_json(value) -> bytes:
    import json

    return json.dumps(_frozen_canonical(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def _frozen_content_hash(item) -> str:
    import hashlib
    import json

    doc = {key: item.get(key) for key in ("form_id", "form_version", "area", "household_id", "household_rev",
                                          "answers")}
    if doc["answers"] is None:
        doc["answers"] = {}
    pairs = []
    for att in item.get("attachments") or ():
        sha = att.get("sha256")
        pairs.append(_frozen_canonical([att.get("name"), sha.lower() if isinstance(sha, str) else sha]))
    doc["attachments"] = sorted(pairs, key=lambda pair: json.dumps(pair, sort_keys=True, ensure_ascii=False))
    return hashlib.sha256(_frozen_canonical_json(doc)).hexdigest()


def _outcome(function, value):
    """(bytes or hash, None) or (None, exception type)."""
    try:
        return function(value), None
    except (ValueError, TypeError) as exc:  # UnicodeEncodeError is a ValueError
        return None, ValueError if isinstance(exc, ValueError) else TypeError


# Text that exercises normalisation and escaping: Vietnamese in NFC and NFD, combining marks
# alone and stacked, Hangul jamo, controls, quotes and backslashes, U+2028, astral characters,
# and (rarely) a lone surrogate, which neither encoder can write as UTF-8.
_alphabet = st.one_of(
    st.characters(codec="utf-8"),
    st.sampled_from(list("aAeEoOuUdD\"\\/ ") + ["\u0300", "\u0301", "\u0303", "\u0309", "\u0323", "\u0302",
                                                "\u0306", "\u031b", "\u0338", "\u1100", "\u1161", "\u11a8",
                                                "\u0110", "\u01a1", "\u01b0", "\x00", "\x08", "\x1f", "\x7f",
                                                "\u2028", "\ufeff", "\U0001f600", "<", "=", ">"]),
)
_texts = st.one_of(st.text(_alphabet, max_size=10),
                   st.text(_alphabet, max_size=10).map(lambda s: unicodedata.normalize("NFD", s)),
                   st.text(_alphabet, max_size=10).map(lambda s: unicodedata.normalize("NFC", s)),
                   st.sampled_from(["Nguyễn Văn An", unicodedata.normalize("NFD", "Nguyễn Văn An"), "\ud800",
                                    "a\udfffb", "Hoà", "Hòa", "", "e\u0301"]))
_floats = st.one_of(st.floats(), st.floats(-1e-3, 1e-3), st.floats(-1e17, 1e17),
                    st.integers(-(2**60), 2**60).map(float),
                    st.sampled_from([0.0, -0.0, 1e-4, -1e-4, 9.999999999999999e-05, 1e-5, 1.5e-7, 0.1, 2.5,
                                     2**53 + 0.0, 2**53 - 0.5, 1e16, 1e22, 5e-324, 1.7976931348623157e308]))
_ints = st.one_of(st.integers(), st.integers(-(2**70), 2**70),
                  st.sampled_from([2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1]))
_scalars = st.one_of(st.none(), st.booleans(), _ints, _floats, _texts,
                     st.decimals(allow_nan=True, allow_infinity=True, places=None), st.uuids(), st.dates(),
                     st.datetimes(timezones=st.just(timezone.utc)))


class _DictSubclass(dict):
    pass


_nested = st.recursive(_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=5),
    st.lists(inner, max_size=3).map(tuple),
    st.dictionaries(_texts, inner, max_size=5),
    st.dictionaries(_texts, inner, max_size=3).map(_DictSubclass),
    st.dictionaries(st.one_of(_texts, st.integers(0, 2)), inner, max_size=2),
), max_leaves=30)
# What phones actually send: JSON-parsed data (no Python-only types), mostly valid.
_json_like = st.recursive(st.one_of(st.none(), st.booleans(), _ints, _floats, _texts), lambda inner: st.one_of(
    st.lists(inner, max_size=6), st.dictionaries(_texts, inner, max_size=6)), max_leaves=40)


@settings(deadline=None, max_examples=1500)
@given(st.one_of(_nested, _json_like))
def test_canonical_json_is_byte_identical_to_the_original(value):
    assert _outcome(canonical_json, value) == _outcome(_frozen_canonical_json, value)


@settings(deadline=None, max_examples=500)
@given(st.dictionaries(_texts, _json_like, max_size=8), st.one_of(st.none(), st.integers(1, 5), st.uuids()),
       st.lists(st.fixed_dictionaries({"name": _texts, "sha256": st.sampled_from(["3f2a" * 16, "9B1C" * 16]),
                                       "size": st.integers(0, 10)}), max_size=3))
def test_content_hash_is_the_original_one(answers, household_rev, attachments):
    item = {**ITEM, "answers": answers, "household_rev": household_rev, "attachments": attachments}
    assert _outcome(content_hash, item) == _outcome(_frozen_content_hash, item)
    item["household_id"] = uuid.UUID(ITEM["household_id"])
    assert _outcome(content_hash, item) == _outcome(_frozen_content_hash, item)


@pytest.mark.parametrize("value", [
    {"b": 1, "a": [1.0, -0.0, 2.5, 1e-05, 1.5e-07, 0.0001, 1e16, 2**64, -(2**63) - 1, True, None]},
    {"Hòa": "e\u0301", "Ho\u0300a": 1}, {"\u00e9": 1, "e\u0301": 2}, {"z": {"\u0110": ["\x00\x1f\u2028\"\\"]}},
    {"k": "\ud800"}, {"\U0001f600": 1, "\uffff": 2, "\u00ff": 3}, {1: 2}, [float("nan")], {"d": Decimal("1.50")},
    _DictSubclass(a=1), (1, "x"), {"t": (1.0,)},
])
def test_canonical_json_edge_cases_match_the_original(value):
    assert _outcome(canonical_json, value) == _outcome(_frozen_canonical_json, value)


def test_the_bundled_households_take_the_fast_path():
    import canonjson
    from support.households import household_answers

    answers = household_answers()
    assert canonjson._orjson_exact({**{k: ITEM[k] for k in ("form_id", "area")}, "answers": answers})
    assert content_hash({**ITEM, "answers": answers}) == _frozen_content_hash({**ITEM, "answers": answers})
