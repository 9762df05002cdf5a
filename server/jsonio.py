"""JSON in and out: orjson (keeps Vietnamese readable, handles UUIDs and datetimes)."""

from __future__ import annotations

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
    """
    if isinstance(value, str):
        if "\x00" in value:
            raise invalid(path, "nul", "Text may not contain the NUL character (U+0000).")
        return unicodedata.normalize("NFC", value)
    if isinstance(value, dict):
        return {nfc_deep(k, path): nfc_deep(v, f"{path}/{k}" if path else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [nfc_deep(v, f"{path}/{i}" if path else str(i)) for i, v in enumerate(value)]
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
