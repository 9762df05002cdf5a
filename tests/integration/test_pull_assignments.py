"""Households assigned to enumerators: where an area assigns any household, its enumerators'
phones receive only their assigned households and those they created, hear of every change in
the change feed, and are told to drop what they may no longer hold. The assignment API: who may
assign what to whom, all or none, audited."""

from __future__ import annotations

import uuid
from collections import Counter
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from support import COMMUNE_X, COMMUNE_Y, VILLAGE_A, VILLAGE_B, VILLAGE_C, problem
from support.households import household_answers, submission

from server.db import db
from server.models import Change, Household
from server.services import changes

PULL, PUSH, ASSIGN = "/api/v1/sync/pull", "/api/v1/sync/push", "/api/v1/assignments"


def phone(accounts, areas: list[str], role: str = "enumerator") -> SimpleNamespace:
    user = accounts.create(role, areas)
    device = f"phone-{user.username}"
    tokens = accounts.login(user.username, device_id=device)
    return SimpleNamespace(id=str(user.id), device=device, headers={"Authorization": f"Bearer {tokens['access_token']}"})


def push(client, who, items: list[dict]) -> list[dict]:
    response = client.post(PUSH, json={"device_id": who.device, "submissions": items}, headers=who.headers)
    assert response.status_code == 200, response.get_json()
    results = response.get_json()["results"]
    assert [r["status"] for r in results] == ["accepted"] * len(items), results
    return results


def pull(client, who, cursor: str | None = None, limit: int = 1) -> tuple[list[dict], list[str], str]:
    """Every page from ``cursor``: (households, households_removed, last cursor)."""
    households, removed = [], []
    for _ in range(200):
        url = f"{PULL}?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        response = client.get(url, headers=who.headers)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        households += body["changes"]["households"]
        removed += body["changes"]["households_removed"]
        assert len(body["changes"]["households"]) + len(body["changes"]["households_removed"]) <= limit
        cursor = body["next_cursor"]
        if not body["has_more"]:
            return households, removed, cursor
    raise AssertionError("has_more never ended")


def ids(households: list[dict]) -> list[str]:
    return [h["id"] for h in households]


def assign(client, who, household_ids: list[str], enumerator_id: str | None, status: int = 200):
    response = client.post(ASSIGN, json={"household_ids": household_ids, "enumerator_id": enumerator_id},
                           headers=who.headers)
    assert response.status_code == status, response.get_json()
    return response.get_json()


@pytest.fixture()
def world(client, accounts):
    """Village A: four households recorded by one phone, two other enumerators; village B: one
    household and its enumerator; the commune's supervisor."""
    w = SimpleNamespace(seeder=phone(accounts, [VILLAGE_A]), e1=phone(accounts, [VILLAGE_A]),
                        e2=phone(accounts, [VILLAGE_A]), seeder_b=phone(accounts, [VILLAGE_B]),
                        supervisor=phone(accounts, [COMMUNE_X], role="supervisor"))
    items = [submission(VILLAGE_A) for _ in range(4)]
    push(client, w.seeder, items)
    w.a = [i["household_id"] for i in items]
    item_b = submission(VILLAGE_B)
    push(client, w.seeder_b, [item_b])
    w.b = item_b["household_id"]
    return w


def test_an_area_without_assignments_behaves_as_before(client, world):
    for who in (world.seeder, world.e1, world.e2):
        households, removed, _ = pull(client, who)
        assert sorted(ids(households)) == sorted(world.a) and removed == []
    assert ids(pull(client, world.seeder_b)[0]) == [world.b]


def test_where_an_area_assigns_a_phone_gets_its_assigned_and_its_own_households(client, world):
    assign(client, world.supervisor, world.a[:2], world.e1.id)
    assert sorted(ids(pull(client, world.e1)[0])) == sorted(world.a[:2])
    assert pull(client, world.e2)[0] == []
    # The phone that recorded the households keeps them all: it created them.
    assert sorted(ids(pull(client, world.seeder)[0])) == sorted(world.a)
    # Village B assigns nothing: as before.
    assert ids(pull(client, world.seeder_b)[0]) == [world.b]
    # A household e2 records now is e2's, and no one else's but an assignee's.
    new = submission(VILLAGE_A)
    push(client, world.e2, [new])
    assert ids(pull(client, world.e2)[0]) == [new["household_id"]]
    assert new["household_id"] not in ids(pull(client, world.e1)[0])
    assert new["household_id"] not in ids(pull(client, world.seeder)[0])


def test_phones_hear_of_every_assignment_change_from_their_cursor(client, world):
    cursors = {}
    for name in ("e1", "e2"):
        households, _, cursors[name] = pull(client, getattr(world, name))
        assert sorted(ids(households)) == sorted(world.a)

    def delta(name: str) -> tuple[list[str], list[str]]:
        households, removed, cursors[name] = pull(client, getattr(world, name), cursors[name])
        assert not set(ids(households)) & set(removed)
        assert len(ids(households)) == len(set(ids(households))) and len(removed) == len(set(removed))
        return sorted(ids(households)), sorted(removed)

    # The village starts assigning: e1 keeps its household, everyone else's phone drops the rest.
    assign(client, world.supervisor, [world.a[0]], world.e1.id)
    assert delta("e1") == ([world.a[0]], sorted(world.a[1:]))
    assert delta("e2") == ([], sorted(world.a))
    # Moved to e2.
    assign(client, world.supervisor, [world.a[0]], world.e2.id)
    assert delta("e1") == ([], [world.a[0]])
    assert delta("e2") == ([world.a[0]], [])
    # Nothing changed since: empty deltas.
    assert delta("e1") == delta("e2") == ([], [])
    # From the start, each household once, decided by its latest assignment only.
    for who, mine in ((world.e1, []), (world.e2, [world.a[0]])):
        households, removed, _ = pull(client, who)
        assert ids(households) == mine and sorted(removed) == sorted(set(world.a) - set(mine))
    # The last assignment goes: the village stops assigning and every phone gets every household again.
    response = client.delete(f"/api/v1/households/{world.a[0]}/assignment", headers=world.supervisor.headers)
    assert response.status_code == 204
    assert delta("e1") == (sorted(world.a), [])
    assert delta("e2") == (sorted(world.a), [])
    # Village B's phone heard nothing of it.
    _, _, cursor_b = pull(client, world.seeder_b)
    assign(client, world.supervisor, [world.a[1]], world.e1.id)
    assert pull(client, world.seeder_b, cursor_b)[:2] == ([], [])


def test_a_visit_to_an_assigned_household_reaches_its_phone_once(client, world):
    h = world.a[0]
    assign(client, world.supervisor, [h], world.e1.id)
    households, _, cursor = pull(client, world.e1)
    assert [(x["id"], x["rev"]) for x in households] == [(h, 1)]
    visit = submission(VILLAGE_A, household_id=h, household_rev=1, answers=household_answers(floor_area=71))
    push(client, world.seeder, [visit])
    households, removed, _ = pull(client, world.e1, cursor)
    assert [(x["id"], x["rev"], x["answers"]["floor_area"]) for x in households] == [(h, 2, 71)] and removed == []
    # From the start: once, as it stands.
    assert [(x["id"], x["rev"]) for x in pull(client, world.e1)[0]] == [(h, 2)]
    assert h not in ids(pull(client, world.e2)[0])


def _write_assignment_row(app, household_id: str, rev: int) -> None:
    """An assignment row naming ``rev``, as a transaction that read the household at ``rev``
    writes it (the assignment itself is already in place)."""
    with app.app_context():
        h = db.session.get(Household, uuid.UUID(household_id))
        changes.record([changes.assignment_row(h.id, rev, h.area_code, None)])
        db.session.commit()


@pytest.mark.parametrize("limit", [1, 50])
def test_feed_order_of_an_assignment_and_a_visit_never_loses_or_repeats_a_state(app, client, world, limit):
    """The feed is in commit order, and an assignment and a visit of one household may commit in
    either order, the assignment having read the revision before or after the visit. Whatever the
    order, the phone gets the household's latest state exactly once."""
    h1, h2 = world.a[0], world.a[1]
    assign(client, world.supervisor, [h1, h2], world.e1.id)
    _, _, cursor = pull(client, world.e1)

    # h1: the assignment read revision 2 and its row lands before the visit's row of revision 2
    # (a row ahead of the household; the household row that follows names the same revision).
    _write_assignment_row(app, h1, 2)
    push(client, world.seeder, [submission(VILLAGE_A, household_id=h1, household_rev=1,
                                           answers=household_answers(floor_area=72))])
    # h2: the visit (revision 2) lands first, then an assignment row that read revision 1.
    push(client, world.seeder, [submission(VILLAGE_A, household_id=h2, household_rev=1,
                                           answers=household_answers(floor_area=73))])
    _write_assignment_row(app, h2, 1)

    households, removed, _ = pull(client, world.e1, cursor, limit=limit)
    assert Counter((x["id"], x["rev"]) for x in households) == {(h1, 2): 1, (h2, 2): 1} and removed == []
    with app.app_context():
        kinds = [(str(e), k, r) for e, k, r in db.session.execute(
            sa.select(Change.entity_id, Change.kind, Change.rev).where(Change.entity_id.in_(
                [uuid.UUID(h1), uuid.UUID(h2)])).order_by(Change.xid, Change.seq))]
    # The orders the test meant to build (after each household's first row and first assignment).
    assert [k for k in kinds if k[0] == h1][-2:] == [(h1, "assignment", 2), (h1, "household", 2)]
    assert [k for k in kinds if k[0] == h2][-2:] == [(h2, "household", 2), (h2, "assignment", 1)]


def test_each_change_writes_rows_for_the_households_whose_phones_change(app, client, world):
    def rows() -> Counter:
        with app.app_context():
            return Counter(str(e) for e in db.session.execute(
                sa.select(Change.entity_id).where(Change.kind == "assignment")).scalars())

    assign(client, world.supervisor, [world.a[0]], world.e1.id)  # the village starts assigning: all four
    assert rows() == Counter(world.a)
    assign(client, world.supervisor, [world.a[0], world.a[1]], world.e1.id)  # one new, one unchanged
    assert rows() == Counter(world.a) + Counter([world.a[1]])
    assign(client, world.supervisor, [world.a[0]], None)  # still assigning (a[1]): one row
    assert rows() == Counter(world.a) + Counter(world.a[:2])
    assert client.delete(f"/api/v1/households/{world.b}/assignment",
                         headers=world.supervisor.headers).status_code == 204  # was not assigned: nothing
    assert rows() == Counter(world.a) + Counter(world.a[:2])


# --- the API --------------------------------------------------------------------------------

def test_put_assigns_one_household_and_lists_it(client, accounts, world):
    response = client.put(f"/api/v1/households/{world.a[0]}/assignment", json={"enumerator_id": world.e1.id},
                          headers=world.supervisor.headers)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["household_id"], body["area"], body["enumerator_id"], body["changed"]) == (
        world.a[0], VILLAGE_A, world.e1.id, True)
    again = client.put(f"/api/v1/households/{world.a[0]}/assignment", json={"enumerator_id": world.e1.id},
                       headers=world.supervisor.headers).get_json()
    assert again["changed"] is False and again["assigned_at"] == body["assigned_at"]
    listed = client.get(f"{ASSIGN}?area={VILLAGE_A}", headers=world.supervisor.headers).get_json()
    assert [(i["household_id"], i["enumerator_id"]) for i in listed["items"]] == [(world.a[0], world.e1.id)]
    # Another commune's supervisor sees none of it.
    other = phone(accounts, [COMMUNE_Y], role="supervisor")
    assert client.get(ASSIGN, headers=other.headers).get_json()["items"] == []


def test_the_enumerator_must_work_in_the_households_area(client, accounts, world):
    c = phone(accounts, [VILLAGE_C])
    body = assign(client, world.supervisor, [world.a[0], world.b], world.e1.id, status=422)
    assert [(e["path"], e["code"]) for e in body["errors"]] == [("household_ids/1", "not_covered")]
    body = problem(client.put(f"/api/v1/households/{world.a[0]}/assignment", json={"enumerator_id": c.id},
                              headers=world.supervisor.headers), 422, "request.invalid")
    assert [(e["path"], e["code"]) for e in body["errors"]] == [("enumerator_id", "not_covered")]
    # Nothing was assigned: all or none.
    assert client.get(ASSIGN, headers=world.supervisor.headers).get_json()["items"] == []
    # An enumerator of the whole commune covers both villages.
    commune_wide = phone(accounts, [COMMUNE_X])
    assert [i["changed"] for i in assign(client, world.supervisor, [world.a[0], world.b], commune_wide.id)["items"]] \
        == [True, True]


@pytest.mark.parametrize("who", ["supervisor", "admin", "inactive", "nobody"])
def test_only_an_active_enumerator_is_assigned(client, accounts, world, who):
    if who == "nobody":
        target = str(uuid.uuid4())
    else:
        role = "enumerator" if who == "inactive" else who
        target = str(accounts.create(role, [VILLAGE_A], active=who != "inactive").id)
    body = assign(client, world.supervisor, [world.a[0]], target, status=422)
    assert [(e["path"], e["code"]) for e in body["errors"]] == [("enumerator_id", "not_enumerator")]


def test_households_outside_your_areas_are_unknown(client, accounts, world):
    other = phone(accounts, [COMMUNE_Y], role="supervisor")
    enumerator_c = phone(accounts, [VILLAGE_C])
    c_item = submission(VILLAGE_C)
    push(client, enumerator_c, [c_item])
    body = assign(client, other, [c_item["household_id"], world.a[0], str(uuid.uuid4())], enumerator_c.id,
                  status=422)
    assert [(e["path"], e["code"]) for e in body["errors"]] == [
        ("household_ids/1", "unknown_household"), ("household_ids/2", "unknown_household")]
    problem(client.put(f"/api/v1/households/{world.a[0]}/assignment", json={"enumerator_id": world.e1.id},
                       headers=other.headers), 404, "request.not_found")
    problem(client.delete(f"/api/v1/households/{world.a[0]}/assignment", headers=other.headers),
            404, "request.not_found")
    # A province's admin assigns in the province.
    admin = phone(accounts, ["01"], role="admin")
    assert assign(client, admin, [world.a[0]], world.e1.id)["items"][0]["changed"] is True


@pytest.mark.parametrize("body", [{"household_ids": [], "enumerator_id": None}, {"enumerator_id": None},
                                  {"household_ids": ["x"], "enumerator_id": None},
                                  {"household_ids": [str(uuid.UUID(int=1))]},
                                  {"household_ids": [str(uuid.UUID(int=i)) for i in range(1001)],
                                   "enumerator_id": None}])
def test_bulk_bodies_are_checked(client, world, body):
    problem(client.post(ASSIGN, json=body, headers=world.supervisor.headers), 422, "request.invalid")


def test_every_change_is_audited_and_no_change_is_not(client, accounts, world):
    admin = phone(accounts, [], role="admin")
    assign(client, world.supervisor, world.a[:2], world.e1.id)
    assign(client, world.supervisor, world.a[:2], world.e1.id)  # no change
    assign(client, world.supervisor, [world.a[0]], world.e2.id)
    assign(client, world.supervisor, [world.a[1]], None)
    entries = []
    for action in ("household.assign", "household.unassign"):
        response = client.get(f"/api/v1/audit?action={action}&limit=500", headers=admin.headers)
        assert response.status_code == 200, response.get_json()
        entries += response.get_json()["items"]
    got = sorted((e["action"], e["target_id"], e["detail"]["enumerator_id"], e["detail"]["previous_enumerator_id"])
                 for e in entries)
    assert got == sorted([
        ("household.assign", world.a[0], world.e1.id, None), ("household.assign", world.a[1], world.e1.id, None),
        ("household.assign", world.a[0], world.e2.id, world.e1.id),
        ("household.unassign", world.a[1], None, world.e1.id)])
    assert all(e["area_code"] == VILLAGE_A and e["actor_id"] == world.supervisor.id for e in entries)
