"""Bad input to the sync endpoints: every refusal has its exact status and code, and nothing
else changes: not the rest of the batch, not the database, not the attachment store.

Whole-request refusals (4xx problem) store nothing and do not even record the device's sync;
per-item refusals (a ``rejected``/``conflict``/``duplicate`` result) leave the other items of the
batch to be stored exactly as if the bad one had not been there.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import uuid
import zlib
from pathlib import Path

import forms
import orjson
import pytest
import sqlalchemy as sa
from support import VILLAGE_A, VILLAGE_B, VILLAGE_C, VILLAGE_D, problem
from support.households import household_answers, photo, submission

from server.models import (
    Attachment,
    Conflict,
    Device,
    Household,
    HouseholdRevision,
    HouseholdYear,
    Submission,
    SubmissionAttachment,
    SubmissionRevision,
)
from sync.limits import MAX_ATTACHMENT_BYTES, MAX_ITEMS_PER_PUSH, MAX_PUSH_BYTES

PUSH = "/api/v1/sync/push"
DEVICE = "phone-bad"

# The rows one accepted new visit adds; the rest must not move.
ONE_VISIT = {"submissions": 1, "submission_revisions": 1, "households": 1, "household_revisions": 1,
             "household_years": 1}
TABLES = {
    "submissions": Submission, "submission_revisions": SubmissionRevision, "households": Household,
    "household_revisions": HouseholdRevision, "household_years": HouseholdYear, "conflicts": Conflict,
    "attachments": Attachment, "submission_attachments": SubmissionAttachment,
}


@pytest.fixture()
def phone(accounts):
    """An enumerator of village A logged in on device DEVICE."""
    return accounts.headers("enumerator", [VILLAGE_A], device_id=DEVICE)



def counts(transaction) -> dict[str, int]:
    return {name: transaction.execute(sa.select(sa.func.count()).select_from(model.__table__)).scalar_one()
            for name, model in TABLES.items()}


def plus(before: dict[str, int], visits: int) -> dict[str, int]:
    return {name: value + visits * ONE_VISIT.get(name, 0) for name, value in before.items()}


def last_sync(transaction):
    return transaction.execute(sa.select(Device.last_sync_at).where(Device.id == DEVICE)).scalar_one()


def push(client, headers, items, device_id=DEVICE):
    response = client.post(PUSH, json={"device_id": device_id, "submissions": items}, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    return response.get_json()["results"]


def refused_whole(client, transaction, phone, status, code, *, data, headers=None, content_type="application/json"):
    """Send a raw push body; assert the problem, that nothing was stored, the device not touched."""
    before, synced = counts(transaction), last_sync(transaction)
    response = client.post(PUSH, data=data, headers={**phone, **(headers or {})}, content_type=content_type)
    body = problem(response, status, code)
    assert counts(transaction) == before
    assert last_sync(transaction) == synced
    return body


def sandwiched(client, transaction, phone, bad) -> dict:
    """Push [good, bad, good]: both good items are accepted and stored exactly as usual, the bad
    one adds nothing. Returns the bad item's result."""
    before = counts(transaction)
    good1, good2 = submission(VILLAGE_A), submission(VILLAGE_A)
    first, result, last = push(client, phone, [good1, bad, good2])
    assert (first["status"], first["id"], last["status"], last["id"]) == (
        "accepted", good1["id"], "accepted", good2["id"]), (first, last)
    assert counts(transaction) == plus(before, 2), result
    return result


def rejected(result, path, code, item_id=...):
    assert result["status"] == "rejected", result
    assert [(e["path"], e["code"]) for e in result["errors"]][:1] == [(path, code)], result["errors"]
    if item_id is not ...:
        assert result["id"] == item_id
    return result


# --- the body as a whole ------------------------------------------------------------------


def envelope(**fields) -> bytes:
    return orjson.dumps({"device_id": DEVICE, "submissions": [submission(VILLAGE_A)], **fields})


@pytest.mark.parametrize("data", [
    pytest.param(lambda: envelope()[:-1], id="last-byte-missing"),
    pytest.param(lambda: envelope()[: len(envelope()) // 2], id="cut-in-half"),
    pytest.param(lambda: b'{"device_id": "phone-bad", "submissions": [', id="open-array"),
    pytest.param(lambda: b"{device_id: 'phone-bad', submissions: []}", id="not-json"),
    pytest.param(lambda: b'{"device_id": "phone-bad", "submissions": [], }', id="trailing-comma"),
    pytest.param(lambda: b'{"device_id": "phone-bad", "submissions": [{"rev": NaN}]}', id="nan"),
    pytest.param(lambda: b'{"device_id": "phone-bad", "submissions": []} {}', id="two-documents"),
    pytest.param(lambda: b'{"device_id": "phone-\xff\xfe", "submissions": []}', id="bad-utf8"),
    pytest.param(lambda: b"\xef\xbb\xbf" + envelope(), id="utf8-bom"),
])
def test_malformed_json_is_400_and_stores_nothing(client, transaction, phone, data):
    refused_whole(client, transaction, phone, 400, "request.malformed_json", data=data())


@pytest.mark.parametrize("body", [[], [{"device_id": DEVICE, "submissions": []}], "push", 42, None, True],
                         ids=["empty-array", "array", "string", "number", "null", "true"])
def test_a_body_that_is_not_an_object_is_422(client, transaction, phone, body):
    problem_body = refused_whole(client, transaction, phone, 422, "request.invalid", data=orjson.dumps(body))
    assert [(e["path"], e["code"]) for e in problem_body["errors"]] == [("", "type")], problem_body


@pytest.mark.parametrize("fields, path, code", [
    ({"device_id": 7}, "device_id", "invalid"),
    ({"device_id": None}, "device_id", "null"),
    ({"device_id": ["phone-bad"]}, "device_id", "invalid"),
    ({"device_id": ""}, "device_id", "invalid"),
    ({"device_id": "x" * 65}, "device_id", "invalid"),
    ({"device_id": "phone bad/../"}, "device_id", "invalid"),
    ({"device_id": {"id": DEVICE}}, "device_id", "invalid"),
    ({"app_version": 14}, "app_version", "invalid"),
    ({"app_version": "1." * 30}, "app_version", "invalid"),
    ({"app_version": ["1.4"]}, "app_version", "invalid"),
    ({"pending": "3"}, "pending", "type"),
    ({"pending": [3, 5]}, "pending", "type"),
    ({"pending": {"submissions": "three"}}, "pending/submissions", "invalid"),
    ({"pending": {"submissions": -1}}, "pending/submissions", "invalid"),
    ({"pending": {"attachments": True}}, "pending/attachments", "invalid"),
    ({"pending": {"photos": 3}}, "pending/photos", "unknown_field"),
    ({"submissions": None}, "submissions", "null"),
    ({"submissions": "many"}, "submissions", "invalid"),
    ({"submissions": {"0": {}}}, "submissions", "invalid"),
    ({"submissions": 3}, "submissions", "invalid"),
    ({"extra": 1}, "extra", "unknown_field"),
], ids=lambda v: json.dumps(v)[:40] if isinstance(v, dict) else v)
def test_wrong_envelope_fields_are_422_naming_the_field(client, transaction, phone, fields, path, code):
    body = refused_whole(client, transaction, phone, 422, "request.invalid", data=envelope(**fields))
    assert [(e["path"], e["code"]) for e in body["errors"]] == [(path, code)]


@pytest.mark.parametrize("missing", ["device_id", "submissions"])
def test_missing_envelope_fields_are_422(client, transaction, phone, missing):
    document = orjson.loads(envelope())
    del document[missing]
    body = refused_whole(client, transaction, phone, 422, "request.invalid", data=orjson.dumps(document))
    assert [(e["path"], e["code"]) for e in body["errors"]] == [(missing, "required")]


def test_another_devices_id_is_422(client, transaction, phone):
    body = refused_whole(client, transaction, phone, 422, "request.invalid", data=envelope(device_id="phone-other"))
    assert body["errors"][0]["code"] == "device_mismatch"


def test_too_many_items_is_413_naming_the_limit(client, transaction, phone):
    items = [submission(VILLAGE_A) for _ in range(MAX_ITEMS_PER_PUSH + 1)]
    body = refused_whole(client, transaction, phone, 413, "request.too_large",
                         data=orjson.dumps({"device_id": DEVICE, "submissions": items}))
    assert body["limit_items"] == MAX_ITEMS_PER_PUSH and str(MAX_ITEMS_PER_PUSH) in body["detail"]
    # Exactly at the limit is fine (here: the same item, so it is cheap, and then duplicates).
    item = submission(VILLAGE_A)
    results = push(client, phone, [item] * MAX_ITEMS_PER_PUSH)
    assert [r["status"] for r in results] == ["accepted"] + ["duplicate"] * (MAX_ITEMS_PER_PUSH - 1)


def test_a_body_over_the_byte_limit_is_413(client, transaction, phone):
    padding = "x" * (MAX_PUSH_BYTES + 1)
    body = refused_whole(client, transaction, phone, 413, "request.too_large", data=envelope(app_version=padding))
    assert body["limit_bytes"] == MAX_PUSH_BYTES


def test_an_uncompressed_body_over_a_lower_configured_limit_is_413(client, transaction, phone, config):
    config["MAX_PUSH_BYTES"] = 1024
    data = envelope()
    assert len(data) > 1024
    body = refused_whole(client, transaction, phone, 413, "request.too_large", data=data)
    assert body["limit_bytes"] == 1024
    # measured after inflating: the same body gzipped is far smaller, and still too large
    body = refused_whole(client, transaction, phone, 413, "request.too_large", data=gzip.compress(data),
                         headers={"Content-Encoding": "gzip"})
    assert len(gzip.compress(data)) < 1024 and body["limit_bytes"] == 1024


def _bomb(inflated: int) -> bytes:
    """A gzip body that inflates to ``inflated`` bytes: a JSON prefix, then spaces."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    parts = [compressor.compress(b'{"device_id": "phone-bad", "submissions": []')]
    chunk = b" " * (1024 * 1024)
    for _ in range(inflated // len(chunk)):
        parts.append(compressor.compress(chunk))
    parts.append(compressor.compress(b"}"))
    parts.append(compressor.flush())
    return b"".join(parts)


def test_a_gzip_bomb_is_413(client, transaction, phone):
    # 1 GiB inflated, about 1 MiB sent; the server inflates at most the limit plus one byte
    # (zlib's max_length), so this answers without ever holding the gigabyte.
    bomb = _bomb(1024 * 1024 * 1024)
    assert len(bomb) < MAX_PUSH_BYTES // 4
    body = refused_whole(client, transaction, phone, 413, "request.too_large", data=bomb,
                         headers={"Content-Encoding": "gzip"})
    assert body["limit_bytes"] == MAX_PUSH_BYTES


def test_gzip_itself_works_and_corrupt_gzip_is_400(client, transaction, phone):
    good = gzip.compress(envelope())
    refused_whole(client, transaction, phone, 400, "request.malformed", data=good[:-12],
                  headers={"Content-Encoding": "gzip"})  # truncated
    refused_whole(client, transaction, phone, 400, "request.malformed", data=b"\x1f\x8b\x08\x00garbage",
                  headers={"Content-Encoding": "gzip"})
    refused_whole(client, transaction, phone, 400, "request.malformed", data=envelope(),
                  headers={"Content-Encoding": "gzip"})  # says gzip, is not
    response = client.post(PUSH, data=good, headers={**phone, "Content-Encoding": "gzip"},
                           content_type="application/json")
    assert response.status_code == 200 and response.get_json()["results"][0]["status"] == "accepted"


@pytest.mark.parametrize("encoding", ["br", "deflate", "compress", "zstd", "gzip, gzip", "x-gzip-nope"])
def test_unsupported_content_encoding_is_415(client, transaction, phone, encoding):
    refused_whole(client, transaction, phone, 415, "request.unsupported_media_type", data=envelope(),
                  headers={"Content-Encoding": encoding})


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                                          "application/xml", "image/jpeg", "application/jsonx"])
def test_wrong_content_type_is_415(client, transaction, phone, content_type):
    refused_whole(client, transaction, phone, 415, "request.unsupported_media_type", data=envelope(),
                  content_type=content_type)


def test_json_with_parameters_is_still_json(client, transaction, phone):
    response = client.post(PUSH, data=envelope(), headers=phone, content_type="application/json; charset=utf-8")
    assert response.status_code == 200, response.get_json()


# --- one bad item in a batch -------------------------------------------------------------


@pytest.mark.parametrize("field, value", [
    ("id", "not-a-uuid"), ("id", 12345), ("id", None), ("id", "7b0e"), ("id", ["7b0e"]),
    ("household_id", "not-a-uuid"), ("household_id", 7), ("household_id", None), ("household_id", ""),
])
def test_non_uuid_ids_are_rejected_with_their_path(client, transaction, phone, field, value):
    bad = {**submission(VILLAGE_A), field: value}
    result = sandwiched(client, transaction, phone, bad)
    rejected(result, field, "invalid" if value is not None else "null")
    # The result names the item as the phone named it, so that the phone can find it.
    assert result["id"] == (bad["id"] if field != "id" else None if value is None else str(value))


@pytest.mark.parametrize("change, path, code", [
    ({"rev": "one"}, "rev", "invalid"), ({"rev": 0}, "rev", "invalid"), ({"rev": -1}, "rev", "invalid"),
    ({"rev": True}, "rev", "invalid"), ({"rev": None}, "rev", "null"), ({"rev": 10**12}, "rev", "invalid"),
    ({"household_rev": "latest"}, "household_rev", "invalid"), ({"household_rev": 0}, "household_rev", "invalid"),
    ({"form_id": 2022}, "form_id", "invalid"), ({"form_id": ""}, "form_id", "invalid"),
    ({"form_version": None}, "form_version", "null"),
    ({"area": ["01-00004-a"]}, "area", "invalid"), ({"area": None}, "area", "null"),
    ({"answers": []}, "answers", "invalid"), ({"answers": "none"}, "answers", "invalid"),
    ({"answers": None}, "answers", "null"),
    ({"started_at": "yesterday"}, "started_at", "invalid"),
    ({"finished_at": "2026-10-02T08:40:12"}, "finished_at", "invalid"),  # no offset
    ({"finished_at": "2026-10-02"}, "finished_at", "invalid"),
    ({"attachments": "photo.jpg"}, "attachments", "invalid"),
    ({"attachments": [{"name": "house_photo", "sha256": "ABC"}]}, "attachments/0/sha256", "invalid"),
    ({"attachments": [{"name": "house_photo"}]}, "attachments/0/sha256", "required"),
    ({"surprise": 1}, "surprise", "unknown_field"),
], ids=lambda v: json.dumps(v) if isinstance(v, dict) else v)
def test_wrong_item_fields_are_rejected_alone(client, transaction, phone, change, path, code):
    bad = {**submission(VILLAGE_A), **change}
    result = sandwiched(client, transaction, phone, bad)
    assert result["status"] == "rejected" and result["id"] == bad["id"], result
    assert [(e["path"], e["code"]) for e in result["errors"]] == [(path, code)], result["errors"]


@pytest.mark.parametrize("change", [{"rev": 1.5}, {"rev": 2.9}, {"rev": "1"}], ids=str)
def test_non_integer_revisions_are_rejected(client, transaction, phone, change):
    bad = {**submission(VILLAGE_A), **change}
    result = sandwiched(client, transaction, phone, bad)
    assert result["status"] == "rejected", result


def test_an_item_that_is_not_an_object_is_rejected_alone(client, transaction, phone):
    for bad in (None, "7b0e", 5, [], True):
        result = sandwiched(client, transaction, phone, bad)
        assert result["status"] == "rejected" and result["id"] is None, result


@pytest.mark.parametrize("where, path", [("text-answer", "answers/head_name"),
                                         ("member-text", "answers/members/1/member_name"),
                                         ("answer-key", "answers")])
def test_nul_in_answers_is_refused_never_a_500(client, transaction, phone, where, path):
    """PostgreSQL cannot store U+0000 in JSONB or text: refused as bad input on every database,
    for that item alone (one bad item never blocks the rest)."""
    answers = household_answers()
    if where == "text-answer":
        answers["head_name"] = "Nguyễn\u0000Văn An"
    elif where == "member-text":
        answers["members"][1]["member_name"] = "Trần\u0000Thị"
    else:
        answers["note\u0000"] = "x"
    bad = submission(VILLAGE_A, answers=answers)
    before, synced = counts(transaction), last_sync(transaction)
    good1, good2 = submission(VILLAGE_A), submission(VILLAGE_A)
    response = client.post(PUSH, json={"device_id": DEVICE, "submissions": [good1, bad, good2]}, headers=phone)
    assert response.status_code == 200, response.get_data(as_text=True)
    results = response.get_json()["results"]
    assert [r["status"] for r in results] == ["accepted", "rejected", "accepted"], results
    assert results[1]["errors"][0]["path"] == path and results[1]["errors"][0]["code"] == "nul", results[1]
    assert counts(transaction) == plus(before, 2)
    assert last_sync(transaction) != synced


def test_nul_in_envelope_text_is_422(client, transaction, phone):
    body = refused_whole(client, transaction, phone, 422, "request.invalid", data=envelope(app_version="1.4\u0000"))
    assert "app_version" in [e["path"] for e in body["errors"]], body


def test_invalid_answers_are_rejected_alone_with_their_path(client, transaction, phone):
    answers = household_answers()
    answers["members"][0]["birth_year"] = 1700
    result = sandwiched(client, transaction, phone, submission(VILLAGE_A, answers=answers))
    assert "answers/members/0/birth_year" in [e["path"] for e in result["errors"]], result


# --- other areas ---------------------------------------------------------------------------


@pytest.fixture()
def theirs(client, accounts):
    """A household of village B, visited by B's enumerator."""
    other = accounts.headers("enumerator", [VILLAGE_B], device_id="phone-b")
    item = submission(VILLAGE_B)
    assert push(client, other, [item], device_id="phone-b")[0]["status"] == "accepted"
    return item


def household_state(transaction, household_id):
    return transaction.execute(sa.select(Household.rev, Household.area_code, Household.answers, Household.updated_at)
                               .where(Household.id == uuid.UUID(household_id))).one()


@pytest.mark.parametrize("household_rev, code", [(1, "unknown_household"), (None, "id_unavailable")],
                         ids=["from-pull", "as-if-new"])
def test_a_household_of_another_area_is_refused_and_untouched(client, transaction, phone, theirs, household_rev,
                                                               code):
    before = household_state(transaction, theirs["household_id"])
    bad = submission(VILLAGE_A, household_id=theirs["household_id"], household_rev=household_rev)
    rejected(sandwiched(client, transaction, phone, bad), "household_id", code, bad["id"])
    assert household_state(transaction, theirs["household_id"]) == before


@pytest.mark.parametrize("area", [VILLAGE_B, VILLAGE_C, VILLAGE_D, "01-00004", "01"])
def test_a_submission_in_another_area_is_refused(client, transaction, phone, theirs, area):
    bad = submission(area, household_id=theirs["household_id"], household_rev=1)
    expected = "unknown_area" if area == "01" else "outside_scope"  # a province is no place to live
    rejected(sandwiched(client, transaction, phone, bad), "area", expected, bad["id"])
    fresh = submission(area)
    rejected(sandwiched(client, transaction, phone, fresh), "area", expected, fresh["id"])


def test_another_areas_submission_id_cannot_be_edited(client, transaction, phone, theirs):
    before = household_state(transaction, theirs["household_id"])
    hijack = {**theirs, "area": VILLAGE_A, "rev": 2, "answers": household_answers(floor_area=5)}
    rejected(sandwiched(client, transaction, phone, hijack), "id", "id_unavailable", theirs["id"])
    # Not even a duplicate answer leaks that it exists with this content.
    rejected(sandwiched(client, transaction, phone, theirs), "area", "outside_scope", theirs["id"])
    assert household_state(transaction, theirs["household_id"]) == before


# --- revisions ---------------------------------------------------------------------------


def test_replayed_revisions(client, transaction, phone):
    item = submission(VILLAGE_A)
    assert push(client, phone, [item])[0]["status"] == "accepted"
    edit = {**item, "rev": 2, "household_rev": 1, "answers": household_answers(floor_area=75)}
    assert push(client, phone, [edit])[0]["status"] == "accepted"
    sid = uuid.UUID(item["id"])

    def stored():
        return (transaction.execute(sa.select(Submission.rev, Submission.answers).where(Submission.id == sid)).one(),
                transaction.execute(sa.select(SubmissionRevision.rev, SubmissionRevision.content_hash)
                                    .where(SubmissionRevision.submission_id == sid)
                                    .order_by(SubmissionRevision.rev)).all())

    state = stored()
    # The old revision as it was: a harmless duplicate, answered as such.
    assert sandwiched(client, transaction, phone, item) == {"id": item["id"], "status": "duplicate", "rev": 1,
                                                            "missing_attachments": []}
    # Re-serialised differently (key order, NFD text, 1.0 for 1): still the same content.
    shuffled = json.loads(json.dumps(dict(reversed(list(item.items())))))
    shuffled["answers"] = {**shuffled["answers"], "floor_area": float(shuffled["answers"]["floor_area"])}
    assert sandwiched(client, transaction, phone, shuffled)["status"] == "duplicate"
    # The old revision with other content: a conflict naming the current revision.
    changed = {**item, "answers": household_answers(floor_area=10)}
    result = sandwiched(client, transaction, phone, changed)
    assert (result["status"], result["rev"]) == ("conflict", 2) and result["detail"], result
    # The current revision with other content: the same.
    result = sandwiched(client, transaction, phone, {**edit, "answers": household_answers(floor_area=11)})
    assert (result["status"], result["rev"]) == ("conflict", 2), result
    assert stored() == state


def test_an_older_revision_never_received_is_stale(client, transaction, phone):
    item = submission(VILLAGE_A, rev=3)  # edited offline twice before its first sync
    assert push(client, phone, [item])[0]["status"] == "accepted"
    older = {**item, "rev": 2, "answers": household_answers(floor_area=33)}
    rejected(sandwiched(client, transaction, phone, older), "rev", "stale_revision", item["id"])
    same = {**item, "rev": 2}  # same content under an older number: still not stored twice
    rejected(sandwiched(client, transaction, phone, same), "rev", "stale_revision", item["id"])


def test_a_submission_never_moves_household_or_form(client, transaction, phone):
    item = submission(VILLAGE_A)
    assert push(client, phone, [item])[0]["status"] == "accepted"
    moved = {**item, "rev": 2, "household_id": str(uuid.uuid4())}
    rejected(sandwiched(client, transaction, phone, moved), "household_id", "household_mismatch", item["id"])
    other_form = {**item, "rev": 2, "form_id": "thu-nghiem", "form_version": "1"}
    result = sandwiched(client, transaction, phone, other_form)
    assert result["status"] == "rejected", result  # an unknown form, or a form mismatch: either way not stored


# --- forms ---------------------------------------------------------------------------------


def draft_of_household_review(client, accounts, version: str) -> None:
    definition = json.loads((Path(forms.__file__).parent / "bundled" / "household-review-2022.json")
                            .read_text(encoding="utf-8"))
    definition["version"] = version
    response = client.post("/api/v1/forms", json=definition, headers=accounts.headers("admin"))
    assert response.status_code == 201, response.get_json()


@pytest.mark.parametrize("form_id, version", [("no-such-form", "2022.1"), ("household-review", "1999.1"),
                                              ("household-review", ""), ("HOUSEHOLD-REVIEW", "2022.1")])
def test_unknown_forms_are_rejected(client, transaction, phone, form_id, version):
    bad = {**submission(VILLAGE_A), "form_id": form_id, "form_version": version}
    rejected(sandwiched(client, transaction, phone, bad), "form_version",
             "unknown_form_version" if version else "invalid", bad["id"])


def test_a_draft_version_takes_no_submissions(client, transaction, accounts, phone):
    draft_of_household_review(client, accounts, "2099.1")
    bad = {**submission(VILLAGE_A), "form_version": "2099.1"}
    rejected(sandwiched(client, transaction, phone, bad), "form_version", "unknown_form_version", bad["id"])


def test_a_closed_version_takes_no_new_submissions(client, transaction, accounts, phone):
    earlier = submission(VILLAGE_A)
    assert push(client, phone, [earlier])[0]["status"] == "accepted"
    admin = accounts.headers("admin")
    assert client.post("/api/v1/forms/household-review/versions/2022.1/close", headers=admin,
                       json={"confirm": "household-review/2022.1"}).status_code == 200
    bad = submission(VILLAGE_A, year="2022")
    # (the good items of the sandwich are of the 2022 form too: make them 2027 ones)
    before = counts(transaction)
    good1, good2 = submission(VILLAGE_A, year="2027"), submission(VILLAGE_A, year="2027")
    results = push(client, phone, [good1, bad, good2])
    assert [r["status"] for r in results] == ["accepted", "rejected", "accepted"], results
    rejected(results[1], "form_version", "form_version_closed", bad["id"])
    assert counts(transaction) == plus(before, 2)


def test_a_retry_after_the_version_closed_is_still_a_duplicate(client, transaction, accounts, phone):
    earlier = submission(VILLAGE_A)
    assert push(client, phone, [earlier])[0]["status"] == "accepted"
    admin = accounts.headers("admin")
    assert client.post("/api/v1/forms/household-review/versions/2022.1/close", headers=admin,
                       json={"confirm": "household-review/2022.1"}).status_code == 200
    before = counts(transaction)
    assert push(client, phone, [earlier])[0] == {"id": earlier["id"], "status": "duplicate", "rev": 1,
                                                 "missing_attachments": []}
    assert counts(transaction) == before


# --- attachments ---------------------------------------------------------------------------


def storage_files(app) -> set[Path]:
    root = Path(app.config["ATTACHMENTS_DIR"])
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def temporaries(app) -> list[Path]:
    return [p for p in storage_files(app) if p.name.startswith(".upload-")]


def refused_upload(client, transaction, app, phone, status, code, url, *, data=b"", content_type="image/jpeg",
                   **kwargs):
    before, files = counts(transaction), storage_files(app)
    response = client.put(url, data=data, content_type=content_type, headers=phone, **kwargs)
    body = problem(response, status, code)
    assert counts(transaction) == before
    assert storage_files(app) == files and temporaries(app) == []
    return body


def test_bytes_that_do_not_match_the_hash_are_422_and_leave_nothing(client, transaction, app, phone):
    content, sha = photo(b"\xff\xd8\xff the real photo " + uuid.uuid4().bytes)
    body = refused_upload(client, transaction, app, phone, 422, "request.invalid", f"/api/v1/attachments/{sha}",
                          data=content + b"tampered")
    assert body["errors"][0]["code"] == "hash_mismatch"
    # and the real bytes are still welcome afterwards
    assert client.put(f"/api/v1/attachments/{sha}", data=content, content_type="image/jpeg",
                      headers=phone).status_code == 201


def test_an_attachment_over_the_limit_is_413(client, transaction, app, phone):
    content = b"\0" * (MAX_ATTACHMENT_BYTES + 1)
    sha = hashlib.sha256(content).hexdigest()
    body = refused_upload(client, transaction, app, phone, 413, "request.too_large", f"/api/v1/attachments/{sha}",
                          data=content)
    assert body["limit_bytes"] == MAX_ATTACHMENT_BYTES


def test_a_streamed_attachment_over_the_limit_is_413_and_leaves_nothing(client, transaction, app, phone, config):
    """No Content-Length (chunked): the limit is found while reading; the partial file goes."""
    config["MAX_ATTACHMENT_BYTES"] = 64 * 1024
    content = b"\1" * (200 * 1024)
    sha = hashlib.sha256(content).hexdigest()
    body = refused_upload(client, transaction, app, phone, 413, "request.too_large", f"/api/v1/attachments/{sha}",
                          environ_overrides={"wsgi.input": io.BytesIO(content), "wsgi.input_terminated": True,
                                             "HTTP_TRANSFER_ENCODING": "chunked"})
    assert body["limit_bytes"] == 64 * 1024


@pytest.mark.parametrize("name, status", [
    ("A" * 64, 422), ("a" * 63, 422), ("a" * 65, 422), ("g" * 64, 422), ("not-a-hash", 422),
    ("sha256:" + "a" * 64, 422), ("a" * 32 + "%00" + "a" * 31, 400),
    ("%2e%2e%2fsecret", 404), ("../../etc/passwd", 404), ("a" * 64 + "/", 404),
])
def test_an_attachment_url_that_is_not_a_sha256_is_refused(client, transaction, app, phone, name, status):
    content = b"\xff\xd8\xff bytes"
    code = {400: "request.malformed", 404: "request.not_found", 422: "request.invalid"}[status]
    refused_upload(client, transaction, app, phone, status, code, f"/api/v1/attachments/{name}", data=content)


@pytest.mark.parametrize("content_type", ["text/plain", "application/json", "image/svg+xml", "text/html"])
def test_an_attachment_of_a_type_not_allowed_is_415(client, transaction, app, phone, content_type):
    content, sha = photo(b"<svg onload=alert(1)>" + uuid.uuid4().bytes)
    refused_upload(client, transaction, app, phone, 415, "request.unsupported_media_type",
                   f"/api/v1/attachments/{sha}", data=content, content_type=content_type)
