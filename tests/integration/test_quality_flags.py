"""Quality flags over HTTP with the bundled form (docs/quality.md): each flag raised at push, shown
in the submission's detail and the queue's items, filterable (``flag=``), recomputed by a
correction, with thresholds from the configuration, and ``rasoat flags refresh`` bringing whole
villages up to date. On the suite's database (SQLite, and PostgreSQL in CI's second pass)."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from support import COMMUNE_X, COMMUNE_Y, VILLAGE_A, VILLAGE_C
from support.households import household_answers, submission

from server.cli import flags_group
from server.config import DEFAULTS, from_environment
from server.db import db
from server.models import HouseholdYear, Submission
from server.services import quality as quality_service
from sync.quality import FLAGS, Thresholds

PUSH = "/api/v1/sync/push"
URL = "/api/v1/submissions"


@pytest.fixture()
def phone(accounts):
    return accounts.headers("enumerator", [VILLAGE_A, VILLAGE_C], device_id="phone-q")


@pytest.fixture()
def supervisor(accounts):
    return accounts.headers("supervisor", [COMMUNE_X, COMMUNE_Y])


def push(client, phone, *items) -> list[dict]:
    response = client.post(PUSH, json={"device_id": "phone-q", "submissions": list(items)}, headers=phone)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    results = response.get_json()["results"]
    assert [r["status"] for r in results] == ["accepted"] * len(items), results
    return results


def flags(client, supervisor, item) -> list[str]:
    response = client.get(f"{URL}/{item['id']}", headers=supervisor)
    assert response.status_code == 200
    return response.get_json()["flags"]


_heads = iter(range(1, 10**6))


def household(year: str = "2022", **overrides) -> dict:
    """The base household with a head of its own (the base's head would be everyone's duplicate)."""
    n = next(_heads)
    return household_answers(year, **{"head_name": f"Chủ Hộ Số {n}", "head_cccd": f"0480{n:08d}", **overrides})


def neighbour(i: int, **overrides) -> dict:
    """A household of village A near the others, its own head, an income a little off theirs."""
    answers = household_answers(head_name=f"Người Thứ {i}", head_cccd=f"00108601{i:04d}",
                                location={"lat": 21.0285 + i / 1000, "lon": 105.8542 - i / 1000, "accuracy": 6.0},
                                income_agriculture=(120 + 10 * i) * 1_000_000)
    answers["members"][0]["birth_year"] = 1970 + i
    answers.update(overrides)
    return submission(VILLAGE_A, answers=answers)


@pytest.fixture()
def village(client, phone):
    """Five households of village A, pushed one batch each (none of them flagged)."""
    items = [neighbour(i) for i in range(1, 6)]
    for item in items:
        push(client, phone, item)
    return items


# --------------------------------------------------------------------------- own flags


def test_a_clean_visit_has_no_flag_and_every_own_flag_is_raised(client, phone, supervisor):
    clean = submission(VILLAGE_A, answers=household())
    short = submission(VILLAGE_A, answers=household(), started_at="2026-10-02T08:35:00+07:00",
                       finished_at="2026-10-02T08:40:00+07:00")
    answers = household()
    del answers["location"]
    no_place = submission(VILLAGE_A, answers=answers)
    blurred = submission(VILLAGE_A, answers=household(location={"lat": 21.03, "lon": 105.85, "accuracy": 120.0}))
    unknown_start = submission(VILLAGE_A, answers=household(), started_at=None,
                               finished_at="2026-10-02T08:40:00+07:00")
    push(client, phone, clean, short, no_place, blurred, unknown_start)
    assert flags(client, supervisor, clean) == []
    assert flags(client, supervisor, short) == ["short_interview"]
    assert flags(client, supervisor, no_place) == ["gps_missing"]
    assert flags(client, supervisor, blurred) == ["gps_inaccurate"]
    assert flags(client, supervisor, unknown_start) == []  # no start time: the length is unknown


def test_the_bundled_forms_refuse_a_roster_that_is_not_the_member_count(client, phone):
    """Their roster's repeat_count is member_count, so roster_mismatch never comes from them (the
    drift guard raises it with a form that lacks the rule)."""
    item = submission(VILLAGE_A, answers=household(member_count=5))
    response = client.post(PUSH, json={"device_id": "phone-q", "submissions": [item]}, headers=phone)
    [result] = response.get_json()["results"]
    assert (result["status"], [e["code"] for e in result["errors"]]) == ("rejected", ["repeat_count"])


def test_thresholds_come_from_the_configuration(client, phone, supervisor, config):
    config["QUALITY_MIN_INTERVIEW_MINUTES"] = 40.0  # the base visit lasts 29 minutes
    config["QUALITY_MAX_GPS_ACCURACY_M"] = 5.0  # its location is accurate to 8.5 m
    item = submission(VILLAGE_A)
    push(client, phone, item)
    assert flags(client, supervisor, item) == ["short_interview", "gps_inaccurate"]


def test_the_quality_settings_are_read_from_the_environment_with_their_types(app):
    found = from_environment({"RASOAT_QUALITY_INCOME_Z": "2.5", "RASOAT_QUALITY_MIN_NEIGHBOURS": "8",
                              "RASOAT_QUALITY_MAX_GPS_DISTANCE_KM": "3"})
    assert found == {"QUALITY_INCOME_Z": 2.5, "QUALITY_MIN_NEIGHBOURS": 8, "QUALITY_MAX_GPS_DISTANCE_KM": 3.0}
    with app.app_context():  # the defaults are the rules' own
        assert {k: v for k, v in app.config.items() if k.startswith("QUALITY_")} == \
               {k: v for k, v in DEFAULTS.items() if k.startswith("QUALITY_")}
        assert quality_service.thresholds() == Thresholds()


# --------------------------------------------------------------------------- relative flags


def test_an_odd_household_is_flagged_against_its_village(client, phone, supervisor, village):
    odd = neighbour(9, head_name="NGƯỜI THỨ  2", head_cccd=village[0]["answers"]["head_cccd"],
                    location={"lat": 21.21, "lon": 105.8542, "accuracy": 5.0}, income_agriculture=2_000_000_000)
    odd["answers"]["members"][0]["birth_year"] = 1972
    usual = neighbour(7)
    push(client, phone, odd, usual)
    assert flags(client, supervisor, odd) == ["gps_far", "duplicate_id", "duplicate_name", "income_outlier"]
    assert flags(client, supervisor, usual) == []
    # The households already there keep the flags they were pushed with, until a refresh.
    assert [flags(client, supervisor, item) for item in village] == [[]] * 5


def test_the_same_head_id_number_is_a_duplicate_in_any_area_of_the_review_year(client, phone, supervisor):
    first = submission(VILLAGE_C, answers=household(head_cccd="079190001234"))
    second = submission(VILLAGE_A, answers=household(head_cccd="079190001234"))
    other = submission(VILLAGE_A, answers=household(head_cccd="079190009999"))
    push(client, phone, first)
    push(client, phone, second, other)
    assert "duplicate_id" in flags(client, supervisor, second)
    assert "duplicate_id" not in flags(client, supervisor, other)
    # A second visit of the same household is not a duplicate of its first.
    again = submission(VILLAGE_A, household_id=other["household_id"], household_rev=1,
                       answers=dict(other["answers"], floor_area=61))
    push(client, phone, again)
    assert "duplicate_id" not in flags(client, supervisor, again)
    # The first of the two keeps the flags it was pushed with; its household's next visit has it.
    assert "duplicate_id" not in flags(client, supervisor, first)
    revisit = submission(VILLAGE_C, household_id=first["household_id"], household_rev=1,
                         answers=dict(first["answers"], floor_area=62))
    push(client, phone, revisit)
    assert "duplicate_id" in flags(client, supervisor, revisit)


def test_too_few_neighbours_make_no_median(client, phone, supervisor):
    items = [neighbour(i) for i in range(1, 5)]  # four others: one short of QUALITY_MIN_NEIGHBOURS
    push(client, phone, *items)
    far = neighbour(9, location={"lat": 21.3, "lon": 105.8542}, income_agriculture=3_000_000_000)
    push(client, phone, far)
    assert flags(client, supervisor, far) == []


def test_a_class_that_changed_since_last_year_is_flagged(client, app, phone, supervisor):
    first = submission(VILLAGE_A, answers=household())
    push(client, phone, first)
    with app.app_context():  # last year's review, as imported
        db.session.add(HouseholdYear(household_id=uuid.UUID(first["household_id"]), year=2025,
                                     submission_id=uuid.uuid4(), area_code=VILLAGE_A, classification="poor"))
        db.session.commit()
    again = submission(VILLAGE_A, household_id=first["household_id"], household_rev=1, answers=first["answers"])
    same = submission(VILLAGE_A, answers=household())
    push(client, phone, again, same)
    assert flags(client, supervisor, again) == ["class_changed"]
    assert flags(client, supervisor, same) == []


# --------------------------------------------------------------------------- the queue


def test_the_queue_shows_the_flags_and_filters_on_any_of_those_named(client, phone, supervisor):
    short = submission(VILLAGE_A, answers=household(), started_at="2026-10-02T08:35:00+07:00")
    roster = submission(VILLAGE_A, answers=household(location={"lat": 21.03, "lon": 105.85, "accuracy": 99.0}))
    clean = submission(VILLAGE_A, answers=household())
    push(client, phone, short, roster, clean)

    def page(query: str) -> dict[str, list[str]]:
        response = client.get(f"{URL}?limit=500&{query}", headers=supervisor)
        assert response.status_code == 200, response.get_json()
        return {s["id"]: s["flags"] for s in response.get_json()["items"]}

    assert page("") == {short["id"]: ["short_interview"], roster["id"]: ["gps_inaccurate"], clean["id"]: []}
    assert page("flag=short_interview") == {short["id"]: ["short_interview"]}
    assert set(page("flag=short_interview&flag=gps_inaccurate")) == {short["id"], roster["id"]}
    assert page("flag=gps_far") == {}
    assert set(page(f"flag=gps_inaccurate&area={VILLAGE_A}&status=received")) == {roster["id"]}
    assert page(f"flag=gps_inaccurate&area={VILLAGE_C}") == {}
    response = client.get(f"{URL}?flag=not_a_flag", headers=supervisor)
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["path"].startswith("flag")


def test_the_flag_filter_uses_the_index_on_postgresql(client, app, phone, supervisor):
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("PostgreSQL's GIN index")
    from server.services.queue import _flag_sql

    push(client, phone, submission(VILLAGE_A, answers=household(), started_at="2026-10-02T08:35:00+07:00"))
    with app.app_context():
        query = sa.select(Submission.id).where(_flag_sql(["short_interview"]))
        db.session.execute(sa.text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(db.session.execute(sa.text("EXPLAIN " + str(query.compile(
            dialect=db.session.get_bind().dialect, compile_kwargs={"literal_binds": True})))).scalars())
        assert "ix_submissions_flags" in plan, plan
        db.session.rollback()


# --------------------------------------------------------------------------- corrections and refresh


def test_a_correction_recomputes_the_flags(client, phone, supervisor):
    item = submission(VILLAGE_A, answers=household(location={"lat": 21.03, "lon": 105.85, "accuracy": 99.0}),
                      started_at="2026-10-02T08:35:00+07:00")
    push(client, phone, item)
    assert flags(client, supervisor, item) == ["short_interview", "gps_inaccurate"]
    etag = client.get(f"{URL}/{item['id']}", headers=supervisor).headers["ETag"]
    response = client.patch(f"{URL}/{item['id']}", json={"answers": {"location": None},
                                                         "reason": "Toạ độ sai, xoá"},
                            headers={**supervisor, "If-Match": etag})
    assert response.status_code == 200, response.get_json()
    # the visit's times are the phone's: still a short interview
    assert response.get_json()["flags"] == ["short_interview", "gps_missing"]


def test_refresh_brings_whole_villages_up_to_date(client, app, phone, supervisor, village, config):
    copycat = neighbour(8, head_cccd=village[0]["answers"]["head_cccd"])
    push(client, phone, copycat)
    assert flags(client, supervisor, copycat) == ["duplicate_id"]
    assert flags(client, supervisor, village[0]) == []  # pushed before its duplicate
    before = {item["id"]: flags(client, supervisor, item) for item in [*village, copycat]}
    with app.app_context():  # as the migration leaves submissions stored before it
        db.session.execute(sa.update(Submission).values(flags=[]))
        db.session.execute(sa.update(HouseholdYear).values(gps_lat=None, gps_lon=None, head_id_key=None,
                                                           head_key=None))
        db.session.commit()
    config["QUALITY_MIN_INTERVIEW_MINUTES"] = 30.0  # and a stricter threshold since
    result = app.test_cli_runner().invoke(flags_group, ["refresh", "--area", COMMUNE_X, "--year", "2026"])
    assert result.exit_code == 0, result.output
    assert "6 submissions read, 6 changed" in result.output
    after = {item["id"]: flags(client, supervisor, item) for item in [*village, copycat]}
    assert after == {sid: ["short_interview", *found] for sid, found in before.items()} | {
        village[0]["id"]: ["short_interview", "duplicate_id"]}
    result = app.test_cli_runner().invoke(flags_group, ["refresh"])  # nothing left to change
    assert result.exit_code == 0 and "0 changed" in result.output, result.output


def test_refresh_reads_the_form_of_each_submission(client, app, phone, supervisor):
    """2027.1 is another version with the same fallbacks; a refresh computes its flags as a push did."""
    answers = household("2027")
    del answers["location"]
    item = submission(VILLAGE_A, year="2027", answers=answers)
    push(client, phone, item)
    assert flags(client, supervisor, item) == ["gps_missing"]
    with app.app_context():
        db.session.execute(sa.update(Submission).values(flags=[]))
        db.session.commit()
        assert quality_service.refresh(area=VILLAGE_A) == {"submissions": 1, "changed": 1}
    assert flags(client, supervisor, item) == ["gps_missing"]


def test_every_flag_is_documented():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "quality.md").read_text(encoding="utf-8")
    for code in FLAGS:
        assert f"`{code}`" in text, code
    for key in DEFAULTS:
        if key.startswith("QUALITY_"):
            assert f"`RASOAT_{key}`" in text, key
