"""Queue benchmark: filtered pages of GET /api/v1/submissions over a large PostgreSQL database.

    .venv/bin/python bench/queue_bench.py [--submissions 200000] [--requests 200] [--json]

What it does, on its own (nothing to prepare but a PostgreSQL server at --database-url, default
127.0.0.1:5432 user postgres):

1. creates a throwaway database (dropped at the end, whatever happens), runs the migrations and
   loads the areas (``rasoat init``'s work, in-process);
2. creates 10 villages in each of the first 100 communes of Hà Nội (province 01) and fills
   ``households`` and ``submissions`` with ``--submissions`` rows straight in SQL
   (``INSERT ... SELECT generate_series``: answers with a floor area, a latrine type, an
   income, a head's name; classifications, review states, received times spread over the
   season), then ANALYZE;
3. signs in a commune supervisor (one commune: ~2,000 submissions) and a province supervisor
   (province 01: every submission), and times, through the app's own request handling
   (Flask test client: routing, authentication, scoping, the query, serialisation), the
   queue's first page and a page further down for each of these filters:
   a state and an answer condition (``status=received&where=floor_area:gt:40``), two answer
   conditions (``where=floor_area:lt:20&where=latrine_type:in:none|simple_pit``), a text search
   (``q=thi hoa``), and the default list, sorted by received date, area or classification.

It prints p50/p95/max per query shape and scope, and the overall p95. Timing covers the whole
request in one process; the database runs on the same machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from conftest import test_config  # noqa: E402

from server import create_app  # noqa: E402
from server.cli import initialise  # noqa: E402
from server.db import db  # noqa: E402
from server.models import Area  # noqa: E402
from server.scoping import Scope  # noqa: E402
from server.services.users import create_user  # noqa: E402

PASSWORD = "correct horse battery"

FILL = """
INSERT INTO households (id, area_code, rev, answers, form_id, form_version, household_code, head_name,
                        head_name_folded, classification, created_at, updated_at)
SELECT md5('h' || g)::uuid, v.code, 1, '{}'::jsonb, 'household-review', '2022.1', 'HH-' || g,
       'Nguyễn Thị Hoà ' || g, 'nguyen thi hoa ' || g, NULL, now(), now()
FROM generate_series(1::bigint, :n) AS g
JOIN LATERAL (SELECT code FROM bench_villages WHERE i = g % :villages) v ON true;

INSERT INTO submissions (id, household_id, form_id, form_version, area_code, rev, content_hash, answers, computed,
                         year, classification, deprivation_count, income_per_person, household_code,
                         head_name_folded, enumerator_id, device_id, review_state, review_comment, reviewed_at,
                         started_at, finished_at, received_at, updated_at)
SELECT md5('s' || g)::uuid, md5('h' || g)::uuid, 'household-review', '2022.1', v.code, 1, md5('c' || g),
       jsonb_build_object('floor_area', (g * 7919) % 120 + 5,
                          'latrine_type', (ARRAY['septic','semi_septic','pour_flush','simple_pit','none'])[g % 5 + 1],
                          'income_agriculture', (g * 104729) % 150000000,
                          'head_name', 'Nguyễn Thị Hoà ' || g,
                          'member_count', g % 7 + 1),
       '{}'::jsonb, 2026,
       (ARRAY['poor','near_poor','average','not_poor','not_poor','not_poor'])[g % 6 + 1], g % 6,
       (g * 104729) % 3000000, 'HH-' || g, 'nguyen thi hoa ' || g, :enumerator, 'bench',
       (ARRAY['received','received','approved','changes_requested','rejected'])[g % 5 + 1], NULL, NULL,
       NULL, NULL, timestamptz '2026-09-01' + (g % 8000) * interval '15 minutes',
       timestamptz '2026-09-01' + (g % 8000) * interval '15 minutes'
FROM generate_series(1::bigint, :n) AS g
JOIN LATERAL (SELECT code FROM bench_villages WHERE i = g % :villages) v ON true;
"""

SHAPES = {
    "state + answer": "status=received&form_id=household-review&where=floor_area:gt:40",
    "two answer conditions": "form_id=household-review&where=floor_area:lt:20&where=latrine_type:in:none|simple_pit",
    "text search": "q=thi hoa 1234",
    "default (newest first)": "",
    "sorted by area": "sort=area",
    "sorted by classification": "sort=-classification&classification=poor",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--submissions", type=int, default=200_000)
    parser.add_argument("--requests", type=int, default=200, help="timed requests per shape and scope")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    base = sa.engine.make_url(args.database_url)
    name = f"rasoat_queue_{secrets.token_hex(5)}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        run(base.set(database=name).render_as_string(hide_password=False), args)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run(url: str, args) -> None:
    instance = Path(tempfile.mkdtemp(prefix="rasoat-queue-"))
    app = create_app({**test_config(url, instance), "TESTING": False, "LOG_LEVEL": "WARNING"})
    started = time.perf_counter()
    with app.app_context():
        initialise()
        communes = db.session.execute(sa.select(Area.code).where(Area.level == "commune", Area.code.like("01-%"))
                                      .order_by(Area.code).limit(100)).scalars().all()
        villages = []
        for commune in communes:
            for i in range(10):
                code = f"{commune}-t{i:02d}"
                db.session.add(Area(code=code, name=f"Thôn {i + 1}", name_folded=f"thon {i + 1}", level="village",
                                    parent_code=commune))
                villages.append(code)
        db.session.commit()
        enumerator = create_user(Scope(None), username="bench-enum", password=PASSWORD, role="enumerator",
                                 areas=[communes[0]])
        create_user(Scope(None), username="bench-commune", password=PASSWORD, role="supervisor", areas=[communes[0]])
        create_user(Scope(None), username="bench-province", password=PASSWORD, role="supervisor", areas=["01"])
        with db.engine.begin() as conn:
            conn.execute(sa.text("CREATE TEMP TABLE bench_villages (i int, code text)"))
            conn.execute(sa.text("INSERT INTO bench_villages VALUES (:i, :code)"),
                         [{"i": i, "code": c} for i, c in enumerate(villages)])
            for statement in FILL.split(";\n\n"):
                conn.execute(sa.text(statement), {"n": args.submissions, "villages": len(villages),
                                                  "enumerator": enumerator.id})
            conn.execute(sa.text("ANALYZE"))
        db.session.remove()
    loaded = time.perf_counter() - started

    client = app.test_client()
    results = {}
    for scope in ("bench-commune", "bench-province"):
        tokens = client.post("/api/v1/auth/login", json={"username": scope, "password": PASSWORD}).get_json()
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        for shape, query in SHAPES.items():
            timings = []
            first = client.get(f"/api/v1/submissions?limit=50&{query}", headers=headers)
            assert first.status_code == 200, first.get_json()
            cursor = first.get_json()["next_cursor"]
            for i in range(args.requests):
                page = f"&cursor={cursor}" if cursor and i % 2 else ""
                t0 = time.perf_counter()
                response = client.get(f"/api/v1/submissions?limit=50&{query}{page}", headers=headers)
                timings.append((time.perf_counter() - t0) * 1000)
                assert response.status_code == 200, response.get_json()
            timings.sort()
            results[f"{scope[6:]}: {shape}"] = {
                "rows_on_page": len(first.get_json()["items"]), "p50_ms": statistics.median(timings),
                "p95_ms": timings[int(0.95 * len(timings)) - 1], "max_ms": timings[-1]}
    everything = sorted(r["p95_ms"] for r in results.values())
    summary = {"submissions": args.submissions, "load_s": loaded, "requests_per_shape": args.requests,
               "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"), "cpus": os.cpu_count(),
               "results": results, "worst_p95_ms": everything[-1]}
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(f"queue: {args.submissions} submissions in 1,000 villages of 100 communes (loaded in {loaded:.0f} s), "
          f"{args.requests} requests per line, {summary['date']}, {summary['cpus']} cpu")
    print(f"{'scope: filter':58} {'rows':>5} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for label, r in results.items():
        print(f"{label:58} {r['rows_on_page']:5d} {r['p50_ms']:8.1f} {r['p95_ms']:8.1f} {r['max_ms']:8.1f}")
    print(f"worst p95: {summary['worst_p95_ms']:.1f} ms")


if __name__ == "__main__":
    main()
