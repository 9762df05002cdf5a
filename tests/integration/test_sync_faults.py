"""Faults: phones keep pushing while gunicorn workers are SIGKILLed mid-batch and PostgreSQL
restarts; nothing is lost, nothing is doubled, and while the database is down the server answers
503 problem+json with Retry-After at once instead of hanging.

The scenario is ``bench/sync_faults.py``'s, smaller: the same private PostgreSQL cluster (its own,
on a free port, so that it can be stopped; TEST_DATABASE_URL is not used), the same gunicorn
(2 gthread workers), the same phones. Nothing sleeps for a fixed time: the faults are triggered by
the phones' progress and the cluster's state, waits are bounded polls.
"""

from __future__ import annotations

import importlib.util
import random
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

import orjson
import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("sync_faults", ROOT / "bench" / "sync_faults.py")
faults = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("sync_faults", faults)
_spec.loader.exec_module(faults)

pytestmark = pytest.mark.skipif(faults.postgres_bindir() is None,
                                reason="PostgreSQL's programs (/usr/lib/postgresql/*/bin) are not installed")

PHONES = 5
TOTAL = 1500
WITHIN = 2.0  # seconds: "answers 503 quickly", not after a connect or gunicorn timeout


@pytest.fixture(scope="module")
def stack():
    directory = Path(tempfile.mkdtemp(prefix="rasoat-faults-test-"))
    try:
        with faults.Stack(directory, phones=PHONES, villages=5, workers=2, threads=4, fsync=False) as running:
            yield running
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _timed(stack, method, path, **kwargs):
    t0 = time.perf_counter()
    response = stack.server.request(method, path, **kwargs)
    return response, time.perf_counter() - t0


def _assert_unavailable(response, elapsed, what):
    assert response.status == 503, (what, response.status, response.body[:300])
    assert response.headers["content-type"].startswith("application/problem+json"), (what, response.headers)
    body = response.json()
    assert body["code"] == "server.unavailable" and body["status"] == 503, (what, body)
    assert int(response.headers["retry-after"]) > 0, (what, response.headers)
    assert elapsed < WITHIN, f"{what}: 503 after {elapsed:.2f}s"


def test_database_down_is_a_quick_503_with_retry_after_and_then_service_resumes(stack):
    account = stack.accounts[0]
    auth = {"Authorization": f"Bearer {stack.login(account)}"}
    item = {"id": str(uuid.uuid4()), "form_id": "household-review", "form_version": "2022.1",
            "area": account.village, "household_id": str(uuid.uuid4()), "household_rev": None, "rev": 1,
            "started_at": "2026-10-02T08:11:00+07:00", "finished_at": "2026-10-02T08:40:12+07:00",
            "answers": faults.load.household(random.Random(1), 4, False), "attachments": []}
    push = {"device_id": account.device_id, "app_version": "test", "submissions": [item],
            "pending": {"submissions": 1, "attachments": 0}}
    # Both workers hold pooled connections that the stop will break.
    for _ in range(6):
        assert stack.server.request("GET", faults.PULL, headers=auth).status == 200

    stack.cluster.stop("fast")
    try:
        for _ in range(3):  # a connection from the pool, then new ones; either worker
            _assert_unavailable(*_timed(stack, "GET", "/readyz"), "readyz")
            _assert_unavailable(*_timed(stack, "GET", faults.PULL, headers=auth), "pull")
            _assert_unavailable(*_timed(stack, "POST", faults.PUSH, json_body=push, headers=auth), "push")
        assert stack.server.request("GET", "/healthz").status == 200  # the process itself is fine
    finally:
        stack.cluster.start()

    assert stack.server.request("GET", "/readyz").status == 200
    response = stack.server.request("POST", faults.PUSH, json_body=push, headers=auth)
    assert response.status == 200, response.body[:300]
    assert [r["status"] for r in response.json()["results"]] == ["accepted"]  # the 503s stored nothing

    # A restart with no request in between: every pooled connection is dead, and pool_pre_ping
    # replaces it at checkout, so not one request fails.
    for _ in range(6):
        assert stack.server.request("GET", faults.PULL, headers=auth).status == 200
    stack.cluster.stop("fast")
    stack.cluster.start()
    statuses = [stack.server.request("GET", faults.PULL, headers=auth).status for _ in range(8)]
    assert statuses == [200] * 8


def test_no_push_is_lost_or_doubled_through_worker_kills_and_a_database_restart(stack):
    with psycopg.connect(stack.db_url) as conn:  # the first test's push: the counts are the phones'
        conn.execute("TRUNCATE " + ", ".join(faults.TABLES) + " CASCADE")
    args = faults.parser().parse_args([
        "--phones", str(PHONES), "--total", str(TOTAL), "--batch-size", "25", "--retry-rate", "0.1",
        "--kill-every", "0", "--kill-at", "0.15", "0.35", "0.75", "--restart-at", "0.5",
        "--down-seconds", "0", "--max-retry-wait", "0.5", "--max-seconds", "120"])
    summary = faults.scenario(stack, args)
    summary.update(machine=faults.machine(), postgresql="(test)")
    report = faults.report(summary)
    print(report)  # shown with -rP
    verdict = summary["exactly_once"]

    assert verdict["ok"], report
    assert verdict["accepted_unique"] == verdict["sent_unique"] == TOTAL, report
    assert set(verdict["rows"].values()) == {TOTAL}, report
    assert verdict["resent_batches"] >= 1 and set(verdict["resend_answers"]) == {"duplicate"}, report
    # At least one worker died with a push in flight, whose phone got no answer and sent it again.
    assert summary["kills"]["mid_batch"] >= 1, report
    assert summary["resends"]["no_answer"] >= 1, report
    # The database went away once; meanwhile the probe and the phones were answered 503, and no
    # request, not even one caught halfway by the stop, was a 500.
    assert len(summary["restarts"]) == 1, report
    restart = summary["restarts"][0]
    assert faults.unavailable_ok(restart, WITHIN) == [], report
    assert restart["phones_503_while_down"] >= 1, report
    assert summary["resends"]["other_5xx"] == {}, report
    # gunicorn replaced the killed workers, and the server is ready again.
    stack.wait_for_workers()
    assert orjson.loads(stack.server.request("GET", "/readyz").body)["status"] == "ready"
