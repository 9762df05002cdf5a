"""A form's published bytes and sha256 come from ``canonjson.dumps`` of the NFC-normalised
document, as written: the same bytes as before there was one canonical-JSON module.

Not ``canonjson.canonical_json`` (a submission's spelling): that writes ``1.0`` as ``1``, and
forms already published with an integral float (an XLSForm's numeric cell, say) would change
their sha256, their ETag and the bytes phones hold.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata

import canonjson
from forms.definition import load_form


def _doc() -> dict:
    return {
        "form_id": "thu-nghiem",
        "version": "1",
        "title": {"vi": unicodedata.normalize("NFD", "Thử nghiệm"), "en": "Trial"},
        "default_language": "vi",
        "parameters": {"income_line": 1500000.0, "ratio": 0.5, "zero": -0.0},
        "fields": [{"name": "income", "type": "integer", "label": {"vi": "Thu nhập"}, "required": True}],
    }


def _frozen_form_bytes(doc: dict) -> bytes:
    """How forms/definition.py wrote a form before canonjson (the document NFC-normalised first)."""
    def nfc(value):
        if isinstance(value, str):
            return unicodedata.normalize("NFC", value)
        if isinstance(value, dict):
            return {nfc(k): nfc(v) for k, v in value.items()}
        if isinstance(value, list):
            return [nfc(v) for v in value]
        return value

    return json.dumps(nfc(doc), sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def test_form_bytes_and_hash_are_the_original_ones():
    form = load_form(_doc())
    assert form.canonical_json() == _frozen_form_bytes(_doc())
    assert form.sha256 == hashlib.sha256(_frozen_form_bytes(_doc())).hexdigest()


def test_integral_floats_in_a_form_stay_as_written():
    form = load_form(_doc())
    text = form.canonical_json().decode("utf-8")
    assert '"income_line":1500000.0' in text and '"zero":-0.0' in text
    # The submission spelling would have changed this form's hash: hence dumps, not canonical_json.
    assert canonjson.canonical_json(json.loads(text)) != form.canonical_json()
    assert form.sha256 == canonjson.sha256_hex(canonjson.dumps(json.loads(text)))
