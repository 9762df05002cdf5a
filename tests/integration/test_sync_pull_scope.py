"""GET /api/v1/sync/pull never leaks another area: every household and review it returns lies
within the user's areas, whoever the user is, whatever the page size, and whatever cursor they
bring along."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import COMMUNE_X, COMMUNE_Y, PROVINCE_HCM, PROVINCE_HN, VILLAGE_A, VILLAGE_B, VILLAGE_C, VILLAGE_D, problem
from support.households import submission

from server.scoping import Scope
from server.services.areas import create_village

PULL = "/api/v1/sync/pull"
# A village whose code starts with village A's: a prefix test without the "-" would leak it.
VILLAGE_AB = f"{COMMUNE_X}-ab"
VILLAGES = (VILLAGE_A, VILLAGE_AB, VILLAGE_B, VILLAGE_C, VILLAGE_D)


def covered(roots, area: str) -> bool:
    return any(area == root or area.startswith(root + "-") for root in roots)


def push(client, headers, items, device_id):
    response = client.post("/api/v1/sync/push", json={"device_id": device_id, "submissions": items}, headers=headers)
    assert response.status_code == 200, response.get_json()
    results = response.get_json()["results"]
    assert [r["status"] for r in results] == ["accepted"] * len(items), results
    return results


@pytest.fixture()
def world(app, client, accounts):
    """Two households in each village, one recorded at commune level, and a review outcome on a
    submission of every village."""
    with app.app_context():
        create_village(Scope(None), parent=COMMUNE_X, code="ab", name="Thôn AB")
    households: dict[str, str] = {}  # household id -> area
    submissions: dict[str, str] = {}  # submission id -> area
    seeders: dict[str, dict] = {}  # village -> headers of the enumerator who visited it
    for village in VILLAGES:
        device = f"seed-{village}"
        headers = seeders[village] = accounts.headers("enumerator", [village], device_id=device)
        items = [submission(village) for _ in range(2)]
        push(client, headers, items, device)
        households.update({i["household_id"]: village for i in items})
        submissions.update({i["id"]: village for i in items})
    supervisor = accounts.headers("supervisor", [COMMUNE_X], device_id="seed-commune")
    item = submission(COMMUNE_X)
    push(client, supervisor, [item], "seed-commune")
    households[item["household_id"]] = COMMUNE_X
    reviewer = accounts.headers("supervisor", [PROVINCE_HN, PROVINCE_HCM])
    for submission_id in submissions:
        etag = client.get(f"/api/v1/submissions/{submission_id}", headers=reviewer).headers["ETag"]
        response = client.post(f"/api/v1/submissions/{submission_id}/review", json={"action": "approve"},
                               headers={**reviewer, "If-Match": etag})
        assert response.status_code == 200, response.get_json()
    return SimpleNamespace(households=households, submissions=submissions, seeders=seeders)


def pull_everything(client, headers, limit: int, cursor: str | None = None):
    """Every page; returns (households, reviews, last cursor)."""
    households, reviews, pages = [], [], 0
    while True:
        url = f"{PULL}?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        response = client.get(url, headers=headers)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        households += body["changes"]["households"]
        reviews += body["changes"]["reviews"]
        cursor, pages = body["next_cursor"], pages + 1
        if not body["has_more"]:
            return households, reviews, cursor
        assert pages < 200


def check_scope(world, roots, households, reviews) -> None:
    """Nothing outside ``roots``; everything of the world inside them; no household twice."""
    ids = [h["id"] for h in households]
    assert len(ids) == len(set(ids))
    leaked = [(h["id"], h["area"]) for h in households if not covered(roots, h["area"])]
    assert leaked == []
    # The area reported is the stored one (not something the check above could be fooled by).
    for h in households:
        if h["id"] in world.households:
            assert h["area"] == world.households[h["id"]]
    expected = {hid for hid, area in world.households.items() if covered(roots, area)}
    assert {hid for hid in ids if hid in world.households} == expected
    for review in reviews:
        assert covered(roots, world.submissions.get(review["submission_id"], "?")), review


# Enumerators pull; an enumerator may work in a commune or a province too (the areas are the scope).
USERS = [[VILLAGE_A], [VILLAGE_AB], [VILLAGE_B], [VILLAGE_C], [VILLAGE_D], [VILLAGE_A, VILLAGE_C], [COMMUNE_X],
         [COMMUNE_Y, VILLAGE_D], [PROVINCE_HN], [PROVINCE_HCM]]


@pytest.mark.parametrize("areas", USERS, ids=lambda v: "+".join(v))
@pytest.mark.parametrize("limit", [1, 500])
def test_pull_returns_exactly_the_users_areas(client, accounts, world, areas, limit):
    headers = accounts.headers("enumerator", areas)
    households, reviews, _ = pull_everything(client, headers, limit)
    check_scope(world, areas, households, reviews)
    assert reviews == []  # review outcomes go to the enumerator who sent the submission only


@pytest.mark.parametrize("areas", [[COMMUNE_X], [PROVINCE_HN], [COMMUNE_Y, VILLAGE_D]], ids=lambda v: "+".join(v))
def test_supervisors_do_not_pull(client, accounts, world, areas):
    problem(client.get(PULL, headers=accounts.headers("supervisor", areas)), 403, "auth.forbidden")


def test_review_outcomes_go_to_their_enumerator_only(client, accounts, world):
    for village in VILLAGES:
        mine = {sid for sid, area in world.submissions.items() if area == village}
        households, reviews, _ = pull_everything(client, world.seeders[village], 1)
        check_scope(world, [village], households, reviews)
        assert {r["submission_id"] for r in reviews} == mine and len(reviews) == len(mine)
        # another enumerator of the same village sees the households, not the reviews
        households, reviews, _ = pull_everything(client, accounts.headers("enumerator", [village]), 1)
        check_scope(world, [village], households, reviews)
        assert reviews == []


@pytest.mark.parametrize("areas", [[], [PROVINCE_HN], [COMMUNE_X]], ids=["national", "province", "commune"])
def test_admins_cannot_pull(client, accounts, world, areas):
    problem(client.get(PULL, headers=accounts.headers("admin", areas)), 403, "auth.forbidden")


def test_an_old_cursor_does_not_keep_areas_the_user_lost(client, accounts, world):
    admin = accounts.headers("admin")
    user = accounts.create("enumerator", [VILLAGE_A])
    headers = {"Authorization": f"Bearer {accounts.login(user.username)['access_token']}"}
    households, _, cursor = pull_everything(client, headers, 2)
    check_scope(world, [VILLAGE_A], households, [])
    response = client.patch(f"/api/v1/users/{user.id}", json={"areas": [VILLAGE_B]}, headers=admin)
    assert response.status_code == 200, response.get_json()
    # New work in both villages after the cursor was issued.
    for village in (VILLAGE_A, VILLAGE_B):
        seeder = accounts.headers("enumerator", [village], device_id=f"late-{village}")
        item = submission(village)
        push(client, seeder, [item], f"late-{village}")
        world.households[item["household_id"]] = village
    headers = {"Authorization": f"Bearer {accounts.login(user.username)['access_token']}"}
    # The old cursor is refused (its areas are not the user's any more): start again.
    stale = client.get(f"/api/v1/sync/pull?cursor={cursor}", headers=headers)
    assert stale.status_code == 410 and stale.get_json()["code"] == "cursor.invalid"
    fresh, _, _ = pull_everything(client, headers, 2)
    assert fresh and all(h["area"] == VILLAGE_B for h in fresh), [(h["id"], h["area"]) for h in fresh]


AREA_POOL = [VILLAGE_A, VILLAGE_AB, VILLAGE_B, VILLAGE_C, VILLAGE_D, COMMUNE_X, COMMUNE_Y, PROVINCE_HN, PROVINCE_HCM]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(areas=st.lists(st.sampled_from(AREA_POOL), min_size=1, max_size=4, unique=True),
       limit=st.integers(min_value=1, max_value=7))
def test_no_assignment_of_areas_leaks_another_area(client, accounts, world, areas, limit):
    headers = accounts.headers("enumerator", areas)
    households, reviews, _ = pull_everything(client, headers, limit)
    check_scope(world, areas, households, reviews)
