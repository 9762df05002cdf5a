"""Phones: registered at login (a device id is its first user's), listed with their owner,
revoked at once when lost, released when they change hands."""

from __future__ import annotations

import datetime as dt

import pytest
from support import COMMUNE_X, COMMUNE_Y, PROVINCE_HCM, PROVINCE_HN, VILLAGE_A, VILLAGE_B, bearer, problem

PASSWORD = "correct horse battery"


def _devices(client, headers) -> dict[str, dict]:
    response = client.get("/api/v1/devices", headers=headers)
    assert response.status_code == 200, response.get_json()
    return {d["id"]: d for d in response.get_json()["items"]}


@pytest.fixture()
def field(accounts):
    """An enumerator of village A with two phones, and the supervisor of the commune."""
    enumerator = accounts.create("enumerator", [VILLAGE_A], username="dienvien")
    lost = accounts.login("dienvien", device_id="phone-lost", device_name="Redmi của Hoa", app_version="1.4.0")
    kept = accounts.login("dienvien", device_id="phone-kept")
    supervisor = accounts.headers("supervisor", [COMMUNE_X])
    return enumerator, lost, kept, supervisor


def test_login_with_a_device_id_registers_the_device(client, field):
    enumerator, _lost, _kept, supervisor = field
    before = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    devices = _devices(client, supervisor)
    assert set(devices) == {"phone-lost", "phone-kept"}
    lost = devices["phone-lost"]
    assert lost["username"] == "dienvien"
    assert lost["user_id"] == str(enumerator.id)
    assert lost["name"] == "Redmi của Hoa"
    assert lost["app_version"] == "1.4.0"
    assert lost["revoked"] is False and lost["revoked_at"] is None
    assert dt.datetime.fromisoformat(lost["last_seen_at"]) >= before
    assert dt.datetime.fromisoformat(lost["first_seen_at"]) <= dt.datetime.fromisoformat(lost["last_seen_at"])


def test_refresh_updates_last_seen(client, field):
    _enumerator, lost, _kept, supervisor = field
    first = _devices(client, supervisor)["phone-lost"]["last_seen_at"]
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": lost["refresh_token"]}).status_code == 200
    assert _devices(client, supervisor)["phone-lost"]["last_seen_at"] >= first


def test_revoking_a_device_ends_its_tokens_at_once(client, field, accounts):
    _enumerator, lost, kept, supervisor = field
    assert client.get("/api/v1/me", headers=bearer(lost)).status_code == 200

    revoked = client.post("/api/v1/devices/phone-lost/revoke", headers=supervisor)
    assert revoked.status_code == 200, revoked.get_json()
    body = revoked.get_json()
    assert body["id"] == "phone-lost" and body["revoked"] is True and body["revoked_at"]
    assert body["username"] == "dienvien"

    # The access token dies now, not when it expires.
    problem(client.get("/api/v1/me", headers=bearer(lost)), 401, "auth.invalid_token")
    # Its refresh token says why, so that the phone wipes what it holds (issue 9).
    problem(client.post("/api/v1/auth/refresh", json={"refresh_token": lost["refresh_token"]}), 403,
            "auth.device_revoked")
    # And the phone cannot come back, even with the right password.
    problem(client.post("/api/v1/auth/login", json={"username": "dienvien", "password": PASSWORD,
                                                    "device_id": "phone-lost"}), 403, "auth.device_revoked")

    # The user's other phone carries on.
    me = client.get("/api/v1/me", headers=bearer(kept))
    assert me.status_code == 200 and me.get_json()["username"] == "dienvien"
    renewed = client.post("/api/v1/auth/refresh", json={"refresh_token": kept["refresh_token"]})
    assert renewed.status_code == 200
    assert client.get("/api/v1/me", headers=bearer(renewed.get_json())).status_code == 200
    # ... and so can a new login on another phone.
    accounts.login("dienvien", device_id="phone-new")

    devices = _devices(client, supervisor)
    assert {k: v["revoked"] for k, v in devices.items()} == {"phone-lost": True, "phone-kept": False,
                                                             "phone-new": False}


def test_revoking_twice_is_harmless_and_audited_once(client, field, accounts):
    _enumerator, _lost, _kept, supervisor = field
    first = client.post("/api/v1/devices/phone-lost/revoke", headers=supervisor)
    second = client.post("/api/v1/devices/phone-lost/revoke", headers=supervisor)
    assert first.status_code == second.status_code == 200
    assert first.get_json()["revoked_at"] == second.get_json()["revoked_at"]

    admin = accounts.headers("admin", [])
    audit = client.get("/api/v1/audit?action=device.revoke", headers=admin)
    assert audit.status_code == 200
    entries = audit.get_json()["items"]
    assert len(entries) == 1
    entry = entries[0]
    assert entry["action"] == "device.revoke"
    assert entry["target_type"] == "device" and entry["target_id"] == "phone-lost"
    assert entry["actor_username"].startswith("supervisor-")
    assert entry["request_id"] == first.headers["X-Request-ID"]


def test_revocation_and_logins_are_in_the_audit_log(client, field, accounts):
    enumerator, _lost, _kept, supervisor = field
    client.post("/api/v1/devices/phone-lost/revoke", headers=supervisor)
    client.post("/api/v1/auth/login", json={"username": "dienvien", "password": PASSWORD, "device_id": "phone-lost"})
    admin = accounts.headers("admin", [])
    entries = client.get("/api/v1/audit?limit=500", headers=admin).get_json()["items"]
    logins = [e for e in entries if e["action"] == "auth.login" and e["actor_id"] == str(enumerator.id)]
    assert sorted(e["detail"]["device_id"] for e in logins) == ["phone-kept", "phone-lost"]
    assert [e["target_id"] for e in entries if e["action"] == "device.revoke"] == ["phone-lost"]


def test_unknown_device_is_not_found(client, field):
    *_, supervisor = field
    body = problem(client.post("/api/v1/devices/no-such-phone/revoke", headers=supervisor), 404, "request.not_found")
    assert body["detail"]


def test_a_device_id_must_be_well_formed(client, accounts):
    accounts.create("enumerator", [VILLAGE_A], username="maylaa")
    body = problem(client.post("/api/v1/auth/login", json={"username": "maylaa", "password": PASSWORD,
                                                           "device_id": "bad id/with spaces"}), 422)
    assert [e["path"] for e in body["errors"]] == ["device_id"]


def test_provincial_admin_sees_the_audit_of_their_province_only(client, accounts):
    national = accounts.headers("admin")
    hanoi_admin = accounts.headers("admin", ["01"])
    for areas, device in ((["01-00004-a"], "audit-hn"), (["79-25747-d"], "audit-hcm")):
        user = accounts.create("enumerator", areas)
        accounts.login(user.username, device_id=device)
        assert client.post(f"/api/v1/devices/{device}/revoke", headers=national).status_code == 200
    seen = {e["target_id"] for e in client.get("/api/v1/audit?action=device.revoke&limit=500",
                                                headers=hanoi_admin).get_json()["items"]}
    assert seen == {"audit-hn"}
    logins = client.get("/api/v1/audit?action=auth.login&limit=500", headers=hanoi_admin).get_json()["items"]
    assert logins
    assert {e["detail"].get("device_id") for e in logins} >= {"audit-hn"}
    assert "audit-hcm" not in {e["detail"].get("device_id") for e in logins}


# --- a device id belongs to the user who registered it ------------------------------------------

def _login(client, username, device_id=None, **extra):
    body = {"username": username, "password": PASSWORD, **extra}
    if device_id is not None:
        body["device_id"] = device_id
    return client.post("/api/v1/auth/login", json=body)


def _audit(client, accounts, action) -> list[dict]:
    response = client.get(f"/api/v1/audit?action={action}&limit=500", headers=accounts.headers("admin"))
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


@pytest.fixture()
def handover(accounts):
    """A village head's phone (registered by her first login), the next village head who is to
    take it over, and the commune's supervisor."""
    owner = accounts.create("enumerator", [VILLAGE_A], username="truongthon.cu")
    tokens = accounts.login("truongthon.cu", device_id="phone-shared", device_name="Máy của thôn A",
                            app_version="1.4.0")
    successor = accounts.create("enumerator", [VILLAGE_B], username="truongthon.moi")
    supervisor = accounts.headers("supervisor", [COMMUNE_X])
    return owner, tokens, successor, supervisor


def test_another_users_login_with_a_taken_device_is_refused_and_changes_nothing(client, accounts, handover):
    owner, tokens, successor, supervisor = handover
    before = _devices(client, supervisor)["phone-shared"]

    refused = _login(client, "truongthon.moi", "phone-shared", device_name="Máy mới", app_version="9.9.9")
    body = problem(refused, 409, "auth.device_taken")
    assert [(e["path"], e["code"]) for e in body["errors"]] == [("device_id", "device_taken")]
    assert "truongthon.cu" not in refused.get_data(as_text=True)  # the owner is not named

    # The device row is exactly as it was: same owner, name, version, last seen.
    assert _devices(client, supervisor)["phone-shared"] == before
    assert before["user_id"] == str(owner.id) and before["name"] == "Máy của thôn A"
    # The owner carries on, on that phone.
    assert client.get("/api/v1/me", headers=bearer(tokens)).get_json()["username"] == "truongthon.cu"
    renewed = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"],
                                                        "device_id": "phone-shared"})
    assert renewed.status_code == 200, renewed.get_json()
    # The refused user opened no session, and is not locked out of their own phone.
    assert accounts.login("truongthon.moi", device_id="phone-own")["user"]["id"] == str(successor.id)

    attempts = _audit(client, accounts, "auth.device_taken")
    assert [(e["actor_id"], e["target_id"], e["detail"]["owner"]) for e in attempts] == [
        (str(successor.id), "phone-shared", str(owner.id))]
    logins = _audit(client, accounts, "auth.login")
    assert not [e for e in logins if e["actor_id"] == str(successor.id) and e["detail"]["device_id"] == "phone-shared"]


def test_after_a_release_the_next_user_registers_the_device(client, accounts, handover):
    owner, tokens, successor, supervisor = handover
    pushed = client.post("/api/v1/sync/push", headers=bearer(tokens), json={
        "device_id": "phone-shared", "submissions": [], "pending": {"submissions": 2, "attachments": 1}})
    assert pushed.status_code == 200, pushed.get_json()

    released = client.post("/api/v1/devices/phone-shared/release", headers=supervisor)
    assert released.status_code == 200, released.get_json()
    body = released.get_json()
    assert body["released"] is True and body["released_at"] and body["revoked"] is False
    # Until someone logs in with it, it stays with its last owner (and in the same lists).
    assert body["username"] == "truongthon.cu" and body["pending_submissions"] == 2

    # The owner's sessions on that phone end at once.
    problem(client.get("/api/v1/me", headers=bearer(tokens)), 401, "auth.invalid_token")
    problem(client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}), 401,
            "auth.invalid_token")

    taken_over = _login(client, "truongthon.moi", "phone-shared", device_name="Máy thôn B", app_version="1.5.0")
    assert taken_over.status_code == 200, taken_over.get_json()
    assert client.get("/api/v1/me", headers=bearer(taken_over.get_json())).get_json()["username"] == "truongthon.moi"
    device = _devices(client, supervisor)["phone-shared"]
    assert device["user_id"] == str(successor.id) and device["username"] == "truongthon.moi"
    assert device["released"] is False and device["released_at"] is None
    # Nothing the phone reported for its previous owner is shown as the new owner's.
    assert (device["name"], device["app_version"]) == ("Máy thôn B", "1.5.0")
    assert device["last_sync_at"] is None and device["pending_submissions"] is None
    assert device["pending_attachments"] is None

    # Now the previous owner is the one refused on it; their other phones are untouched.
    problem(_login(client, "truongthon.cu", "phone-shared"), 409, "auth.device_taken")
    assert accounts.login("truongthon.cu", device_id="phone-next")["user"]["id"] == str(owner.id)

    [release] = _audit(client, accounts, "device.release")
    assert release["target_id"] == "phone-shared" and release["actor_username"].startswith("supervisor-")
    assert release["detail"]["owner"] == str(owner.id) and release["detail"]["pending_submissions"] == 2
    assert release["request_id"] == released.headers["X-Request-ID"]
    [registered] = _audit(client, accounts, "device.register")
    assert registered["actor_id"] == str(successor.id) and registered["detail"]["previous_owner"] == str(owner.id)


def test_the_previous_owner_may_register_a_released_device_again(client, accounts, handover):
    owner, _tokens, _successor, supervisor = handover
    assert client.post("/api/v1/devices/phone-shared/release", headers=supervisor).status_code == 200
    assert accounts.login("truongthon.cu", device_id="phone-shared")["user"]["id"] == str(owner.id)
    device = _devices(client, supervisor)["phone-shared"]
    assert device["user_id"] == str(owner.id) and device["released"] is False
    problem(_login(client, "truongthon.moi", "phone-shared"), 409, "auth.device_taken")


def test_releasing_twice_is_harmless_and_audited_once(client, accounts, handover):
    *_, supervisor = handover
    first = client.post("/api/v1/devices/phone-shared/release", headers=supervisor)
    second = client.post("/api/v1/devices/phone-shared/release", headers=supervisor)
    assert first.status_code == second.status_code == 200
    assert first.get_json()["released_at"] == second.get_json()["released_at"]
    assert len(_audit(client, accounts, "device.release")) == 1


def test_a_revoked_device_cannot_be_released(client, accounts, handover):
    _owner, _tokens, _successor, supervisor = handover
    assert client.post("/api/v1/devices/phone-shared/revoke", headers=supervisor).status_code == 200
    problem(client.post("/api/v1/devices/phone-shared/release", headers=supervisor), 409, "device.revoked")
    device = _devices(client, supervisor)["phone-shared"]
    assert device["revoked"] is True and device["released"] is False
    problem(_login(client, "truongthon.moi", "phone-shared"), 403, "auth.device_revoked")
    assert _audit(client, accounts, "device.release") == []


def test_release_is_scoped_to_the_owners_areas(client, accounts, handover):
    owner, tokens, _successor, _supervisor = handover
    others = {
        "supervisor of another commune": accounts.headers("supervisor", [COMMUNE_Y]),
        "admin of another province": accounts.headers("admin", [PROVINCE_HCM]),
    }
    for who, headers in others.items():
        body = problem(client.post("/api/v1/devices/phone-shared/release", headers=headers), 404, "request.not_found")
        assert "phone-shared" not in body["detail"], who
    problem(client.post("/api/v1/devices/phone-shared/release", headers=accounts.headers("enumerator", [VILLAGE_A])),
            403, "auth.forbidden")
    # Nothing happened: the owner's session lives and the device is still theirs.
    assert client.get("/api/v1/me", headers=bearer(tokens)).status_code == 200
    problem(_login(client, "truongthon.moi", "phone-shared"), 409, "auth.device_taken")
    assert _audit(client, accounts, "device.release") == []

    # The owner's provincial admin, and a national admin, may.
    provincial = accounts.headers("admin", [PROVINCE_HN])
    assert client.post("/api/v1/devices/phone-shared/release", headers=provincial).status_code == 200
    national = accounts.headers("admin")
    again = client.post("/api/v1/devices/phone-shared/release", headers=national)
    assert again.status_code == 200 and again.get_json()["username"] == owner.username


def test_refresh_cannot_take_another_users_device(app, client, accounts, handover):
    _owner, tokens, successor, supervisor = handover
    before = _devices(client, supervisor)["phone-shared"]

    # A session opened without a device, refreshed naming the taken id: refused, nothing bound.
    unbound = accounts.login("truongthon.moi")
    problem(client.post("/api/v1/auth/refresh", json={"refresh_token": unbound["refresh_token"],
                                                      "device_id": "phone-shared"}), 409, "auth.device_taken")
    # A session on the user's own phone, refreshed naming the taken id: not this session's device.
    bound = accounts.login("truongthon.moi", device_id="phone-own")
    problem(client.post("/api/v1/auth/refresh", json={"refresh_token": bound["refresh_token"],
                                                      "device_id": "phone-shared"}), 401, "auth.invalid_token")
    assert _devices(client, supervisor)["phone-shared"] == before
    assert client.get("/api/v1/me", headers=bearer(tokens)).status_code == 200

    # Both tokens are still good for what they are (the refusals consumed nothing).
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": unbound["refresh_token"]}).status_code == 200
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": bound["refresh_token"],
                                                     "device_id": "phone-own"}).status_code == 200
    sessions = _session_devices(app, successor.id)
    assert sorted(sessions, key=str) == sorted([None, "phone-own"], key=str)


def test_a_session_left_on_a_device_that_changed_owner_cannot_be_refreshed(app, client, accounts, handover):
    """Defence in depth: a release ends the owner's sessions, but should one survive (a login
    racing the release), refreshing it once the device is someone else's fails and ends it."""
    import sqlalchemy as sa

    from server.db import db
    from server.models import Device

    _owner, tokens, successor, _supervisor = handover
    with app.app_context():
        db.session.execute(sa.update(Device).where(Device.id == "phone-shared").values(user_id=successor.id))
        db.session.commit()
    problem(client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}), 409,
            "auth.device_taken")
    problem(client.get("/api/v1/me", headers=bearer(tokens)), 401, "auth.invalid_token")
    problem(client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}), 401,
            "auth.invalid_token")


def _session_devices(app, user_id) -> list:
    import sqlalchemy as sa

    from server.db import db
    from server.models import AuthSession

    with app.app_context():
        return list(db.session.execute(sa.select(AuthSession.device_id).where(AuthSession.user_id == user_id)
                                       ).scalars())
