"""sync's uses of canonjson give what the code they replaced gave (frozen copies below).

* ``identity._attachment_pairs`` orders the ``[name, sha256]`` pairs by ``canonjson.dumps``
  where it used ``json.dumps(pair, sort_keys=True, ensure_ascii=False)`` (with ", " and ": "):
  the order, hence the content hash, must be the same.
* ``merge._fp`` is ``canonical_json`` of the stripped canonical value where it was a compact
  ``json.dumps`` text: the same bytes, so the same answers compare equal.
"""

from __future__ import annotations

import json
import unicodedata

from hypothesis import given, settings, strategies as st

from canonjson import canonical
from sync import identity, merge


def _frozen_pair_order(pairs):
    return sorted(pairs, key=lambda pair: json.dumps(pair, sort_keys=True, ensure_ascii=False))


def _frozen_strip(value):
    if isinstance(value, dict):
        return {k: _frozen_strip(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_frozen_strip(v) for v in value]
    return value


def _frozen_fp(value) -> str:
    return json.dumps(_frozen_strip(canonical(value)), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# Names that stress the separators: commas, colons, spaces, quotes and brackets inside text, and
# (a name is whatever the phone sent) numbers, lists and objects whose own separators differ.
_texts = st.one_of(st.text(st.sampled_from(list('ab ,:"\\[]{}') + ["Đ", "\u2028", "\U0001f600"]), max_size=6),
                   st.text(max_size=6))
_names = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-1000, 1000), st.floats(-1e3, 1e3, allow_nan=False), _texts),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_texts, inner, max_size=3)),
    max_leaves=8)
_shas = st.one_of(st.sampled_from(["3f2a" * 16, "9b1c" * 16, "3F2A" * 16]), _texts, st.none())


@settings(deadline=None, max_examples=600)
@given(st.lists(st.fixed_dictionaries({"name": _names, "sha256": _shas}), max_size=6))
def test_attachment_pairs_keep_their_original_order(attachments):
    pairs = []
    for att in attachments:
        sha = att["sha256"]
        try:
            pairs.append(canonical([att["name"], sha.lower() if isinstance(sha, str) else sha]))
        except ValueError:
            return  # two keys equal once NFC-normalised: content_hash refuses the item
    assert identity._attachment_pairs(attachments) == _frozen_pair_order(pairs)


_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False, allow_infinity=False),
              st.text(max_size=6), st.text(max_size=6).map(lambda s: unicodedata.normalize("NFD", s))),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=4), inner, max_size=4)),
    max_leaves=20)


def _fp_or_refusal(function, value):
    try:
        return function(value)
    except ValueError:
        return ValueError


@settings(deadline=None, max_examples=600)
@given(_values, _values)
def test_merge_fingerprints_are_the_original_ones(a, b):
    # Lone surrogates never reach the merge (orjson refuses them in request bodies and
    # content_hash refuses them before any merge); everything else must give the same bytes.
    for value in (a, b):
        old = _fp_or_refusal(_frozen_fp, value)
        new = _fp_or_refusal(merge._fp, value)
        assert new == (old if old is ValueError else old.encode("utf-8"))
    if ValueError not in (_fp_or_refusal(_frozen_fp, a), _fp_or_refusal(_frozen_fp, b)):
        assert merge.answers_equal(a, b) == (_frozen_fp(a) == _frozen_fp(b))
