"""Every stored result can be explained years later: each submission revision records the form
version (and its sha256), the province's parameter-set revision, the visit date and the review
year it was computed with, and replaying every revision of the worked cases from that record
alone gives the very values that were stored.

The worked cases are the bundled forms' own (``forms/bundled/cases/*.cases.json``): every valid
case is pushed by a phone, rural ones to a rural commune, urban ones to an urban one, and the
cases that carry parameters to province 79 after its override is set (a new override revision
for each, so the replay must pick the right one).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import uuid
from pathlib import Path

import sqlalchemy as sa
from support import VILLAGE_A, VILLAGE_C, VILLAGE_D
from support.households import CASES, submission

import forms
from forms.answers import evaluate_submission
from server.db import db
from server.models import FormVersion, Submission, SubmissionRevision
from server.services import forms as form_service

BUNDLED = Path(forms.__file__).resolve().parent / "bundled"


def _member(entry, templates: dict) -> dict:
    if isinstance(entry, str):
        return copy.deepcopy(templates[entry])
    out = copy.deepcopy(templates[entry["use"]]) if "use" in entry else {}
    for key, value in entry.items():
        if key != "use":
            if value is None:
                out.pop(key, None)
            else:
                out[key] = value
    return out


def worked_cases():
    """(form_id, version, case id, answers, parameters or None, expected) for every valid case."""
    for path in sorted(CASES.glob("*.cases.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        form = json.loads((BUNDLED / data["form"]).read_text(encoding="utf-8"))
        for case in data["cases"]:
            if "expected" not in case:
                continue
            answers = copy.deepcopy(data["base"])
            for key, value in case["patch"].items():
                if value is None:
                    answers.pop(key, None)
                else:
                    answers[key] = value
            answers["members"] = [_member(m, data["members"]) for m in answers["members"]]
            yield form["form_id"], form["version"], case["id"], answers, case.get("parameters"), case["expected"]


def test_every_revision_of_the_worked_cases_replays_from_its_provenance(client, app, accounts):
    admin = accounts.headers("admin", [])
    response = client.put("/api/v1/areas/01-00008/area-type", headers=admin,
                          json={"area_type": "urban", "valid_from": "2025-07-01"})
    assert response.status_code == 200, response.get_json()
    # Urban cases that carry a province override (the .2 books have some) go to an urban village of 79.
    communes = client.get("/api/v1/areas?parent=79&level=commune&limit=5", headers=admin).get_json()["items"]
    urban_79 = next(c["code"] for c in communes if c["code"] != "79-25747")
    response = client.put(f"/api/v1/areas/{urban_79}/area-type", headers=admin,
                          json={"area_type": "urban", "valid_from": "2025-07-01"})
    assert response.status_code == 200, response.get_json()
    village_e = client.post("/api/v1/areas", headers=admin,
                            json={"parent": urban_79, "code": "e", "name": "Khu phố E"}).get_json()["code"]
    phone = accounts.headers("enumerator", [VILLAGE_A, VILLAGE_C, VILLAGE_D, village_e], device_id="replay")
    pushed: dict[str, tuple] = {}
    for form_id, version, case_id, answers, parameters, expected in worked_cases():
        area = VILLAGE_C if answers.get("area_type") == "urban" else VILLAGE_A
        if parameters is not None:
            override = client.put(f"/api/v1/forms/{form_id}/versions/{version}/parameters/79", headers=admin,
                                  json={"parameters": parameters, "reason": f"worked case {case_id}"})
            assert override.status_code == 200, override.get_json()
            area = village_e if answers.get("area_type") == "urban" else VILLAGE_D
        item = submission(area, answers=answers)
        item["form_version"] = version
        [result] = client.post("/api/v1/sync/push", json={"device_id": "replay", "submissions": [item]},
                               headers=phone).get_json()["results"]
        assert result["status"] == "accepted", (case_id, result)
        assert result["outputs"]["classification"] == expected["classification"], case_id
        pushed[item["id"]] = (case_id, version)
    assert len(pushed) >= 100  # both standards' valid cases

    with app.app_context():
        revisions = db.session.execute(sa.select(SubmissionRevision, Submission.classification, Submission.area_code)
                                       .join(Submission, Submission.id == SubmissionRevision.submission_id)
                                       .where(SubmissionRevision.submission_id.in_(
                                           [uuid.UUID(s) for s in pushed]))).all()
        assert len(revisions) == len(pushed)
        for revision, classification, area_code in revisions:
            record = revision.provenance
            case_id = pushed[str(revision.submission_id)][0]
            version = db.session.execute(sa.select(FormVersion).where(
                FormVersion.form_id == record["form_id"], FormVersion.version == record["form_version"])).scalar_one()
            assert version.sha256 == record["form_sha256"], case_id
            override = record["parameter_set"]
            assert (override is not None) == (area_code in (VILLAGE_D, village_e)), case_id
            parameters = form_service.parameters_at(version, override and override["province"],
                                                    override and override["revision"])
            replayed = evaluate_submission(form_service.definition_of(version), revision.answers,
                                           parameters=parameters, today=dt.date.fromisoformat(record["visit_date"]))
            assert replayed.errors == [], case_id
            assert replayed.computed == revision.computed, case_id
            assert replayed.outputs.get("classification") == classification, case_id
            assert record["review_year"] == parameters.get("review_year"), case_id
