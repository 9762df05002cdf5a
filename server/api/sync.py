from __future__ import annotations

import zlib

import orjson
from flask import Response, current_app, request, send_file
from marshmallow import Schema, ValidationError, fields, validate

from server.api.auth import DEVICE_ID
from server.api.common import page_limit
from server.errors import PUSH_ITEM_CODES, Problem, flatten_messages, invalid
from server.http import accepts
from server.jsonio import ApiBlueprint, nfc_deep
from server.scoping import scope_of
from server.security.current import current_session, current_user, requires
from server.services import attachments as attachment_service
from server.services import pull as pull_service
from server.services import push as push_service
from sync.limits import ATTACHMENT_TYPES, MAX_ATTACHMENT_BYTES, MAX_ITEMS_PER_PUSH, MAX_PUSH_BYTES
from sync.media import EXTENSIONS

blp = ApiBlueprint("sync", __name__, url_prefix="/api/v1", description="The phone's sync: push, attachments, pull")



class PendingIn(Schema):
    submissions = fields.Integer(load_default=None, validate=validate.Range(min=0, max=1_000_000))
    attachments = fields.Integer(load_default=None, validate=validate.Range(min=0, max=1_000_000))


class PushIn(Schema):
    device_id = fields.String(required=True, validate=DEVICE_ID)
    app_version = fields.String(load_default=None, validate=validate.Length(max=40))
    pending = fields.Nested(PendingIn, load_default=None,
                            metadata={"description": "What the phone still holds after this batch."})
    submissions = fields.List(fields.Nested(push_service.SubmissionIn), required=True,
                              validate=validate.Length(max=MAX_ITEMS_PER_PUSH))


class PushEnvelope(PushIn):
    # Items are validated one by one (a bad item is rejected alone, even a null), so the envelope takes them raw.
    submissions = fields.List(fields.Raw(allow_none=True), required=True)


_envelope_schema = PushEnvelope()  # a schema instance is reusable; building one costs more than a load


class PushItemError(Schema):
    path = fields.String(required=True, metadata={"description": "e.g. answers/members/2/birth_year, rev, area"})
    code = fields.String(required=True, validate=validate.OneOf(sorted(PUSH_ITEM_CODES)),
                         metadata={"description": "What happened and what the phone should do: "
                                                  + "; ".join(f"`{c}`: {m}" for c, m in PUSH_ITEM_CODES.items())})
    message = fields.String(required=True)
    messages = fields.Dict(metadata={"description": "The form's own message by language, when it has one."})


class PushResult(Schema):
    id = fields.String(allow_none=True)
    status = fields.String(required=True, validate=validate.OneOf(["accepted", "duplicate", "conflict", "rejected"]))
    rev = fields.Integer()
    missing_attachments = fields.List(fields.String())
    household_rev = fields.Integer()
    conflict_id = fields.String()
    outputs = fields.Dict()
    detail = fields.String()
    errors = fields.List(fields.Nested(PushItemError))


class PushOut(Schema):
    results = fields.List(fields.Nested(PushResult), required=True)
    server_time = fields.AwareDateTime(required=True)


class PullQuery(Schema):
    cursor = fields.String(load_default=None, validate=validate.Length(max=2000))
    limit = fields.Integer(load_default=None, validate=validate.Range(min=1, max=500))


class PullOut(Schema):
    changes = fields.Dict(required=True, metadata={
        "description": "`forms`, `areas`, `households` (the ones this enumerator visits, for prefill; answers the "
                       "form keeps off phones, such as ID numbers, left out), `households_removed` (ids of "
                       "households this phone must drop: assigned to someone else), `reviews`"})
    next_cursor = fields.String(required=True)
    has_more = fields.Boolean(required=True)
    server_time = fields.AwareDateTime(required=True)


def _push_limits() -> tuple[int, int]:
    cfg = current_app.config
    return cfg.get("MAX_ITEMS_PER_PUSH") or MAX_ITEMS_PER_PUSH, cfg.get("MAX_PUSH_BYTES") or MAX_PUSH_BYTES


def _read_body(max_bytes: int) -> bytes:
    raw = request.get_data(cache=False)
    # gunicorn marks its input as terminated, so werkzeug does not check the length: a connection
    # cut at the end of a complete JSON document would otherwise be stored as if whole.
    if request.content_length is not None and len(raw) != request.content_length:
        raise Problem("request.malformed", f"The body ended after {len(raw)} of its {request.content_length} "
                                           f"bytes: the upload was cut; send it again.")
    encoding = request.headers.get("Content-Encoding", "identity").lower()
    if encoding == "identity":
        data = raw
    elif encoding == "gzip":
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            data = inflater.decompress(raw, max_bytes + 1)
        except zlib.error as exc:
            raise Problem("request.malformed", f"The gzip body is corrupt: {exc}") from exc
        if not inflater.eof and len(data) <= max_bytes:
            raise Problem("request.malformed", "The gzip body is truncated.")
    else:
        raise Problem("request.unsupported_media_type", f"Content-Encoding {encoding!r} is not supported; use gzip.")
    if len(data) > max_bytes:
        raise Problem("request.too_large", f"A push is limited to {max_bytes} bytes (uncompressed).",
                      limit_bytes=max_bytes)
    return data


@blp.route("/sync/push", methods=["POST"])
@requires("enumerator", "supervisor")
@blp.response(200, PushOut)
@blp.doc(requestBody={"required": True, "content": {"application/json": {"schema": PushIn}}},
         description=f"Upload a batch collected offline; one result per item, in order. Limits: at most "
                     f"{MAX_ITEMS_PER_PUSH} submissions and {MAX_PUSH_BYTES} bytes (uncompressed) per push, "
                     f"413 beyond. `Content-Encoding: gzip` is accepted. Safe to retry forever.",
         **{"x-rasoat-limits": {"max_items": MAX_ITEMS_PER_PUSH, "max_bytes": MAX_PUSH_BYTES},
            "x-rasoat-item-codes": dict(PUSH_ITEM_CODES)})
def push():
    """Push submissions (idempotent per id and rev)."""
    max_items, max_bytes = _push_limits()
    data = _read_body(max_bytes)
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise Problem("request.malformed_json", f"The body is not valid JSON: {exc}") from exc
    if isinstance(body, dict):
        # Items are normalised one by one in the service, so that one bad item (a NUL, say)
        # is rejected alone; the envelope is normalised here.
        body = {key: value if key == "submissions" else nfc_deep(value, key) for key, value in body.items()}
    if isinstance(body, dict) and isinstance(body.get("submissions"), list) and len(body["submissions"]) > max_items:
        raise Problem("request.too_large", f"A push is limited to {max_items} submissions; split the batch.",
                      limit_items=max_items)
    try:
        envelope = _envelope_schema.load(body)
    except ValidationError as exc:
        errors = flatten_messages(exc.messages)
        raise Problem("request.invalid", "; ".join(f"{e['path']}: {e['message']}" for e in errors[:5]),
                      errors=errors) from exc
    return push_service.push(current_user(), current_session().device_id, envelope["device_id"],
                             envelope["submissions"], envelope["pending"], envelope["app_version"])


@blp.route("/sync/pull", methods=["GET"])
@requires("enumerator")
@blp.arguments(PullQuery, location="query")
@blp.response(200, PullOut)
@blp.alt_response(410, description="Cursor expired or unknown: pull again without one, and keep only the "
                                   "households that walk delivers")
def pull(args):
    """What an enumerator's phone needs: forms, the households they visit, review outcomes; resumable.

    Enumerators only (supervisors and admins read households through `/api/v1/households`). In an
    area where households are assigned, the phone receives only those assigned to its enumerator
    and those the enumerator created; households it must drop come in `changes.households_removed`.
    Answers the form keeps off phones (citizen ID numbers, unless the form marks them
    `"prefill": true`) are left out of `answers`; a visit that does not answer them again leaves
    them unchanged on the server."""
    return pull_service.pull(current_user(), args["cursor"], page_limit(args))




_SHA256_PARAMETER = {"in": "path", "name": "sha256", "required": True,
                     "description": "The file's SHA-256, 64 lower-case hex digits.",
                     "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"}}


@blp.route("/attachments/<string:sha256>", methods=["PUT"])
@accepts(*ATTACHMENT_TYPES)
@requires("enumerator", "supervisor")
@blp.response(201, description="Stored: this user had not uploaded these bytes before")
@blp.alt_response(200, description="This user had already uploaded these bytes (nothing changes)")
@blp.alt_response(413, description="`request.too_large`: over the size limit; `attachment.quota_exceeded`: this "
                                   "device's uploads that no pushed submission lists would pass its quota "
                                   "(`quota_bytes`, `unreferenced_bytes`): push first, then upload")
@blp.alt_response(415, description="`request.unsupported_media_type`: the bytes are not one of "
                                   f"{', '.join(ATTACHMENT_TYPES)} (`unrecognised_type`), or not the declared "
                                   "Content-Type (`type_mismatch`, with the type found as `detected`)")
@blp.alt_response(422, description="`hash_mismatch`: the bytes do not hash to the URL's SHA-256 (whether or "
                                   "not the file is stored)")
@blp.doc(parameters=[_SHA256_PARAMETER],
         requestBody={"required": True, "content": {t: {"schema": {"type": "string", "format": "binary"}}
                                                    for t in sorted(ATTACHMENT_TYPES)}},
         description=f"Upload an attachment's bytes. Checked in this order: the URL's SHA-256 must match "
                     f"the bytes (422 otherwise); the type is read from the bytes and must be the declared "
                     f"Content-Type (415); the quota of unlisted uploads (413). At most {MAX_ATTACHMENT_BYTES} "
                     f"bytes. 201 and 200 say only whether *this user* had sent the bytes before, never "
                     f"whether anyone else did.",
         **{"x-rasoat-limits": {"max_bytes": MAX_ATTACHMENT_BYTES, "types": list(ATTACHMENT_TYPES)}})
def put_attachment(sha256):
    """Upload an attachment (idempotent)."""
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise invalid("sha256", "invalid", "The URL must end with the file's SHA-256 in lower-case hex.")
    created = attachment_service.put_attachment(current_user(), current_session().device_id, sha256,
                                                request.stream, request.mimetype, request.content_length)
    return Response(orjson.dumps({"sha256": sha256, "stored": created}), status=201 if created else 200,
                    mimetype="application/json")


_DOWNLOAD_HEADERS = {
    "Cache-Control": {"description": "`private, no-store`", "schema": {"type": "string"}},
    "X-Content-Type-Options": {"description": "`nosniff`", "schema": {"type": "string"}},
    "Content-Disposition": {"description": "`inline` for images, `attachment` for anything else",
                            "schema": {"type": "string"}},
    "ETag": {"description": "The SHA-256", "schema": {"type": "string"}},
}


@blp.route("/attachments/<string:sha256>", methods=["GET"])
@requires()
@blp.doc(parameters=[_SHA256_PARAMETER],
         description="Download a file listed by a submission in your areas whose enumerator uploaded it. "
                     "404 otherwise, exactly as for a file that does not exist. The content type is read "
                     "from the bytes (`application/octet-stream`, as a download, for a file stored before types were "
                     "checked whose bytes are none of the allowed ones); every read is audited (`attachment.read`).",
         responses={"200": {"description": "The bytes", "headers": _DOWNLOAD_HEADERS,
                            "content": {t: {"schema": {"type": "string", "format": "binary"}}
                                        for t in [*sorted(ATTACHMENT_TYPES), "application/octet-stream"]}},
                    "304": {"description": "Not modified (If-None-Match matched the ETag)"},
                    "404": {"description": "No such file in your areas (`request.not_found`)"}})
def get_attachment(sha256):
    """Download an attachment of a submission in your areas."""
    download = attachment_service.open_attachment(scope_of(current_user()), sha256)
    response = send_file(download.stream, mimetype=download.content_type, etag=sha256, conditional=True)
    extension = EXTENSIONS.get(download.content_type, ".bin")
    disposition = "inline" if download.inline else "attachment"
    response.headers["Content-Disposition"] = f'{disposition}; filename="{sha256}{extension}"'
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    # Should a browser be sent straight to the file, it runs nothing and loads nothing from it.
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
