"""JSON in and out: orjson (keeps Vietnamese readable, handles UUIDs and datetimes)."""

from __future__ import annotations

import itertools
import unicodedata
from typing import Any

import orjson
from flask.json.provider import JSONProvider
from flask_smorest import Blueprint
from marshmallow import missing
from webargs.flaskparser import FlaskParser, is_json_request

from server.errors import invalid


class OrjsonProvider(JSONProvider):
    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return orjson.dumps(obj, default=str, option=orjson.OPT_NON_STR_KEYS).decode()

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return orjson.loads(s)

    def response(self, *args: Any, **kwargs: Any):
        obj = self._prepare_response_obj(args, kwargs)
        return self._app.response_class(
            orjson.dumps(obj, default=str, option=orjson.OPT_NON_STR_KEYS), mimetype="application/json"
        )


def nfc_deep(value: Any, path: str = "") -> Any:
    """Every string (keys too) in Unicode NFC: phones send either NFC or NFD.

    NUL (U+0000) is refused here, for every JSON body: PostgreSQL stores it neither in text
    nor in JSONB, and would answer a 500 much later.

    What is already NFC is returned as is (the same objects), so the common case, ASCII or NFC
    text, costs a walk and no copy. Only when a NUL is found is the walk done again with the
    paths, for the error (building every path up front cost more than the normalisation).
    """
    try:
        try:
            return _nfc(value)
        except _Nul:
            _nfc_with_paths(value, path)
            raise AssertionError("a NUL was found but not located") from None
    except RecursionError:
        # orjson accepts 1,024 levels of nesting, Python's stack fewer: no form nests like that.
        raise invalid(path, "too_deep", "The JSON is nested too deeply.") from None


class _Nul(Exception):
    pass


_normalize = unicodedata.normalize


def _nfc(value: Any) -> Any:
    kind = type(value)
    if kind is str:
        if "\x00" in value:
            raise _Nul
        return value if value.isascii() else _normalize("NFC", value)
    if kind is dict:
        out = None
        for i, (key, item) in enumerate(value.items()):
            if type(key) is str:
                if "\x00" in key:
                    raise _Nul
                nkey = key if key.isascii() else _normalize("NFC", key)
            else:
                nkey = _nfc(key)
            kind = type(item)
            if kind is str:
                if "\x00" in item:
                    raise _Nul
                nitem = item if item.isascii() else _normalize("NFC", item)
            elif kind is int or kind is float or kind is bool or item is None:
                nitem = item
            else:
                nitem = _nfc(item)
            if out is None:
                if nkey is key and nitem is item:
                    continue
                # First change: copy what came before (unchanged) and go on building.
                out = dict(itertools.islice(value.items(), i))
            # Two keys equal once normalised: the later one wins, as in a dict comprehension.
            out[nkey] = nitem
        return value if out is None else out
    if kind is list:
        out = None
        for i, item in enumerate(value):
            kind = type(item)
            if kind is str:
                if "\x00" in item:
                    raise _Nul
                nitem = item if item.isascii() else _normalize("NFC", item)
            elif kind is int or kind is float or kind is bool or item is None:
                nitem = item
            else:
                nitem = _nfc(item)
            if out is None:
                if nitem is item:
                    continue
                out = value[:i]
            out.append(nitem)
        return value if out is None else out
    if isinstance(value, str | dict | list):  # subclasses: the general way
        return _nfc_with_paths(value, "")
    return value


def _nfc_with_paths(value: Any, path: str) -> Any:
    if isinstance(value, str):
        if "\x00" in value:
            raise invalid(path, "nul", "Text may not contain the NUL character (U+0000).")
        return unicodedata.normalize("NFC", value)
    if isinstance(value, dict):
        return {_nfc_with_paths(k, path): _nfc_with_paths(v, f"{path}/{k}" if path else str(k))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_nfc_with_paths(v, f"{path}/{i}" if path else str(i)) for i, v in enumerate(value)]
    return value


class NfcParser(FlaskParser):
    """webargs parser that normalises text to NFC before the schema sees it."""

    def _raw_load_json(self, req):
        """Strict JSON (RFC 8259): NaN and Infinity are refused here as a 400, not later by
        PostgreSQL's JSONB as a 500. orjson's error is a json.JSONDecodeError, which webargs handles."""
        if not is_json_request(req):
            return missing
        data = req.get_data(cache=True)
        # Decoded first so that bad UTF-8 is a UnicodeDecodeError (400), not an empty orjson error.
        return orjson.loads(data.decode("utf-8")) if data else missing

    def load_json(self, req, schema):
        return nfc_deep(super().load_json(req, schema))

    def load_querystring(self, req, schema):
        return self._makeproxy(
            type(req.args)((k, unicodedata.normalize("NFC", v)) for k, v in req.args.items(multi=True)),
            schema,
        )


class ApiBlueprint(Blueprint):
    ARGUMENTS_PARSER = NfcParser()
