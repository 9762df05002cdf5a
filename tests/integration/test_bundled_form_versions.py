"""Several published versions of the bundled household review live side by side.

``rasoat init`` publishes household-review 2022.1, 2022.2, 2027.1 and 2027.2, in that order, and
publishes nothing twice; phones that were offline keep submitting a .1 version while others
submit the .2 one, and each is computed by its own rules.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from support import VILLAGE_A
from support.households import household_answers, submission

from server.db import db
from server.models import FormVersion
from server.services import forms as form_service

VERSIONS = ["2022.1", "2022.2", "2027.1", "2027.2"]


def test_init_published_every_version_in_order_and_once(app, client):
    with app.app_context():
        rows = db.session.execute(sa.select(FormVersion).where(FormVersion.form_id == "household-review")
                                  .order_by(FormVersion.created_at, FormVersion.version)).scalars().all()
        assert [(r.version, r.state) for r in rows] == [(v, "published") for v in VERSIONS]
        assert form_service.load_bundled() == 0  # idempotent: init again changes nothing
        assert db.session.execute(sa.select(sa.func.count()).select_from(FormVersion)
                                  .where(FormVersion.form_id == "household-review")).scalar_one() == 4


@pytest.fixture()
def phone(accounts):
    return accounts.headers("enumerator", [VILLAGE_A], device_id="phone-versions")


def push(client, headers, item):
    response = client.post("/api/v1/sync/push", json={"device_id": "phone-versions", "submissions": [item]},
                           headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    [result] = response.get_json()["results"]
    assert result["status"] == "accepted", result
    return result["outputs"]


def test_old_and_new_versions_are_each_computed_by_their_own_rules(client, phone):
    # 3 members, 54,000,005 a year: 1,500,000.14 per person per month.
    def three(year):
        answers = household_answers(year, member_count=3, income_agriculture=54000005)
        return dict(answers, members=answers["members"][:3])

    old, new = three("2022"), three("2022.2")
    assert "income_pensions_allowances" in old and "farm_household" in new

    # 2022.1 rounds to the đồng first: at the line, near-poor.
    outputs = push(client, phone, submission(VILLAGE_A, year="2022", answers=old))
    assert (outputs["income_per_person"], outputs["classification"]) == (1500000, "near_poor")
    # 2022.2 compares the exact value: above the line, a farm household within the band.
    outputs = push(client, phone, submission(VILLAGE_A, year="2022.2", answers=new))
    assert outputs["income_per_person"] == pytest.approx(1500000.1389, abs=1e-4)
    assert outputs["classification"] == "average"
    # 2027.2 has no average band until a province sets one.
    outputs = push(client, phone, submission(VILLAGE_A, year="2027.2", answers=household_answers(
        "2027.2", income_agriculture=120000000)))
    assert (outputs["income_per_person"], outputs["classification"]) == (2500000, "not_poor")
