"""What the in-memory model counts as arrived for a phone (``missing_attachments``): files the
user uploaded, and files a submission in their areas lists whose enumerator uploaded them;
never a file someone else uploaded that the user merely declares."""

from __future__ import annotations

import datetime as dt
import uuid

from sync.state import SyncState, World, apply_push, present_attachments

NOW = dt.datetime(2026, 11, 29, 3, 0, tzinfo=dt.UTC)
PHOTO, SCAN = "a" * 64, "b" * 64
AREAS = {"one": ("01-00004-a",), "colleague": ("01-00004-a",), "far": ("01-00008-c",)}


def uid(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"present/{name}"))


def visit(name: str, area: str, *hashes: str) -> dict:
    return {"id": uid(name), "rev": 1, "form_id": "f", "form_version": "1", "area": area,
            "household_id": uid(f"{name}/household"), "household_rev": None, "answers": {},
            "started_at": None, "finished_at": "2026-10-02T08:40:00+07:00",
            "attachments": [{"name": f"f{i}", "sha256": h, "size": 3} for i, h in enumerate(hashes)]}


def model() -> SyncState:
    world = World.plain()
    world.covers = lambda user, code: any(code == root or code.startswith(root + "-") for root in AREAS[user])
    world.uploads = {"one": {PHOTO}, "far": set()}
    return SyncState(world=world)


def push(state: SyncState, user: str, *items: dict) -> list[dict]:
    return apply_push(state, list(items), user_id=user, now=NOW)


def test_the_uploader_has_it_before_any_submission():
    state = model()
    assert present_attachments(state, "one") == {PHOTO}
    assert present_attachments(state, "colleague") == set()
    [reply] = push(state, "one", visit("s1", "01-00004-a", PHOTO, SCAN))
    assert reply["status"] == "accepted" and reply["missing_attachments"] == [SCAN]


def test_a_colleague_who_may_read_it_has_it_and_a_stranger_who_declares_it_does_not():
    state = model()
    push(state, "one", visit("s1", "01-00004-a", PHOTO))
    assert push(state, "colleague", visit("s2", "01-00004-a", PHOTO))[0]["missing_attachments"] == []
    assert push(state, "far", visit("s3", "01-00008-c", PHOTO))[0]["missing_attachments"] == [PHOTO]


def test_a_declaration_without_the_bytes_makes_nothing_readable():
    state = model()
    push(state, "far", visit("s3", "01-00008-c", SCAN))
    state.world.covers = lambda user, code: True  # even a user who sees every area
    assert SCAN not in present_attachments(state, "colleague")


def test_a_file_is_readable_only_while_a_submission_lists_it():
    state = model()
    push(state, "one", visit("s1", "01-00004-a", PHOTO))
    assert PHOTO in present_attachments(state, "colleague")
    edited = visit("s1", "01-00004-a") | {"rev": 2}
    assert push(state, "one", edited)[0]["status"] == "accepted"
    assert PHOTO not in present_attachments(state, "colleague")
