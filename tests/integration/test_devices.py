"""Phones: registered at login, listed with their owner, revoked at once when lost."""

from __future__ import annotations

import datetime as dt

import pytest
from support import COMMUNE_X, VILLAGE_A, bearer, problem

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
    problem(client.post("/api/v1/auth/refresh", json={"refresh_token": lost["refresh_token"]}), 401)
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
