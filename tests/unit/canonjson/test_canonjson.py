"""canonjson: the one canonical-JSON spelling behind every stored or compared hash.

The bytes pinned here are stored (form sha256s, submission content hashes): a change that
breaks one of these tests breaks every phone's retry and every cached form.
"""

from __future__ import annotations

import json
import unicodedata
import uuid
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings, strategies as st

import canonjson
from canonjson import canonical, canonical_json, dumps, sha256_hex


def _reference_dumps(value) -> bytes:
    """The spelling every hash used before there was one module (frozen)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def _outcome(function, value):
    try:
        return function(value), None
    except (ValueError, TypeError) as exc:  # UnicodeEncodeError is a ValueError
        return None, ValueError if isinstance(exc, ValueError) else TypeError


def test_dumps_spelling_is_pinned():
    value = {"b": [1.0, -0.0, 2.5, 1e-05, 1e16, 2**64, True, None], "a": "Đỗ \"x\"\\\n\u2028",
             "é": {"z": 1, "y": [], "\U0001f600": {}}}
    assert dumps(value) == (
        '{"a":"Đỗ \\"x\\"\\\\\\n\u2028","b":[1.0,-0.0,2.5,1e-05,1e+16,18446744073709551616,true,null],'
        '"é":{"y":[],"z":1,"\U0001f600":{}}}'
    ).encode("utf-8")


def test_dumps_writes_data_as_given_canonical_json_normalises_it():
    nfd = unicodedata.normalize("NFD", "Hòa")
    assert dumps({"n": 1.0, "t": nfd}) == '{"n":1.0,"t":"{}"}'.replace("{}", nfd).encode()
    assert canonical_json({"n": 1.0, "t": nfd}) == '{"n":1,"t":"Hòa"}'.encode()


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_numbers_are_refused(bad):
    with pytest.raises(ValueError):
        dumps({"x": bad})
    with pytest.raises(ValueError):
        canonical_json({"x": bad})


def test_sha256_hex_is_pinned():
    assert sha256_hex(dumps({"b": 1, "a": "Đ"})) == (
        "3b7ccba960beed6fa6feb5ef0f48fa2423d50f2e0f8a86e92b1dc85a75e9e48a")
    assert sha256_hex(b"") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_canonical_turns_python_values_into_their_json():
    hid = uuid.UUID("c51d0000-0000-4000-8000-000000000002")
    assert canonical({"u": hid, "d": date(2026, 10, 1), "n": Decimal("2.0"), "t": (1, 2),
                      "ts": datetime(2026, 10, 1, 1, 2, tzinfo=timezone.utc)}) == {
        "u": str(hid), "d": "2026-10-01", "n": 2, "t": [1, 2], "ts": "2026-10-01T01:02:00+00:00"}


# --------------------------------------------------------------------------- properties

_texts = st.one_of(st.text(max_size=8), st.text(max_size=8).map(lambda s: unicodedata.normalize("NFD", s)),
                   st.sampled_from(["Nguyễn Văn An", "Hoà", "Hòa", "e\u0301", "\x00\x1f\u2028\"\\", "\ud800"]))
_floats = st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.floats(-1e-3, 1e-3),
                    st.sampled_from([0.0, -0.0, 1.0, 1e-4, 1e-5, 1e16, 1e22, 2.0**53]))
_json_like = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), _floats, _texts),
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(_texts, inner, max_size=5)),
    max_leaves=30)


@settings(deadline=None, max_examples=400)
@given(_json_like)
def test_dumps_is_the_reference_spelling(value):
    assert _outcome(dumps, value) == _outcome(_reference_dumps, value)


@settings(deadline=None, max_examples=800)
@given(_json_like)
def test_canonical_json_is_dumps_of_canonical(value):
    assert _outcome(canonical_json, value) == _outcome(lambda v: dumps(canonical(v)), value)


@settings(deadline=None, max_examples=300)
@given(_json_like)
def test_canonical_is_idempotent_and_fast_path_agrees_on_canonical_data(value):
    try:
        once = canonical(value)
    except ValueError:
        return  # keys equal once NFC-normalised: refused, as the identity tests check
    assert canonical(once) == once
    if canonjson._orjson_exact(once):
        assert _outcome(canonical_json, once) == _outcome(_reference_dumps, once)
