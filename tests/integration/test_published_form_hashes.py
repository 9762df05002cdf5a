"""The sha256 of each bundled form, as ``rasoat init`` publishes it, never changes.

Phones keep the forms they downloaded by sha256 and ask again with ``If-None-Match``; a
server whose canonical bytes drifted (a new JSON encoder, another normalisation) would make
every phone download every form again, and could no longer tell a published version from a
tampered one. These literals were taken from the published rows before the encoder moved to
``canonjson``. A new bundled form needs its line here; a changed bundled form is a new version.
"""

from __future__ import annotations

import hashlib
import json

import sqlalchemy as sa

from server.db import db
from server.models import FormVersion
from server.services.forms import BUNDLED_DIR

PUBLISHED = {
    "household-review-2022.json": ("household-review", "2022.1",
                                   "b891b05cd61fec1605393d3eafd442135e2e5d7e5431e66da850c6b2cc8d4072"),
    "household-review-2027.json": ("household-review", "2027.1",
                                   "385b5c8f6a75d0788a671acfcaed84b5b8df1e07045636a27950b8a4347ff2b2"),
    "household-review-2022.v2.json": ("household-review", "2022.2",
                                      "fe52f76d71b8ea158aace6fd55d2a058262ca0d9ad9fc23f3a429458e75b0728"),
    "household-review-2027.v2.json": ("household-review", "2027.2",
                                      "97dbec3a0d0fd954f99821590f42353f8d28dda788a988515f98f11bd3525f01"),
}


def test_every_bundled_form_is_pinned():
    assert sorted(p.name for p in BUNDLED_DIR.glob("*.json")) == sorted(PUBLISHED)


def test_bundled_forms_compile_to_the_pinned_hashes():
    from forms.definition import load_form

    for name, (form_id, version, sha256) in PUBLISHED.items():
        # As load_bundled reads them.
        form = load_form(json.loads((BUNDLED_DIR / name).read_text(encoding="utf-8")))
        assert (form.form_id, form.version, form.sha256) == (form_id, version, sha256), name
        assert hashlib.sha256(form.canonical_json()).hexdigest() == sha256


def test_init_published_them_with_the_pinned_hashes(app, client, accounts):
    with app.app_context():
        rows = {(r.form_id, r.version): r for r in db.session.execute(sa.select(FormVersion)).scalars()}
        stored = {key: (row.state, row.sha256, hashlib.sha256(row.canonical.encode("utf-8")).hexdigest())
                  for key, row in rows.items()}
    headers = accounts.headers("enumerator", ["01-00004-a"])
    for form_id, version, sha256 in PUBLISHED.values():
        assert stored[(form_id, version)] == ("published", sha256, sha256)
        served = client.get(f"/api/v1/forms/{form_id}/versions/{version}", headers=headers)
        assert served.status_code == 200
        assert served.headers["ETag"] == f'"{sha256}"'
        assert hashlib.sha256(served.get_data()).hexdigest() == sha256
