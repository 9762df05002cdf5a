"""Bulk data for the report and export benchmarks: a migrated throwaway PostgreSQL database with
households, submissions and villages made by INSERT ... SELECT generate_series, not through the API.

Used by ``bench/reports_bench.py`` and ``bench/export_bench.py``; not a benchmark itself.

What a household gets (``i`` is its number, 1..n):

* a village: ``--villages-per-commune`` villages (``t01``, ``t02``...) are created under every
  commune of the province, and household ``i`` lives in village ``i mod villages``;
* its review-year visit: answers and computed values of a real evaluation of the bundled form
  2022.1 (4 templates with 3, 4, 5 and 6 members, the roster included) with the household code,
  head's name and ethnicity (every tenth a minority) made per household, and deprivation flags
  varied in the computed values; classification 5 % poor, 10 % near-poor, 15 % average, the rest
  not poor; approved, except every tenth household whose visit is still ``received``;
* for one household in ten, an earlier approved visit of the same year (poor): for half of them
  the later visit is approved too and the rule must skip the earlier one, for the other half the
  later visit is not reviewed and the earlier one counts;
* for ``--previous-year`` of them, an approved visit of the year before (what "change over the
  year" compares with), so that the tables hold more than one review year, as they do in use.

The submissions table then holds about 1.1 n + previous-year n rows. ``VACUUM ANALYZE`` ends the
load, as autovacuum would on a live server.
"""

from __future__ import annotations

import copy
import datetime
import json
import os
import sys
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from support.households import _cases, household_answers  # noqa: E402

FORM_ID, FORM_VERSION = "household-review", "2022.1"
FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi", "Đỗ", "Hồ"]
GIVEN = ["An", "Bình", "Chi", "Dũng", "Giang", "Hà", "Hùng", "Lan", "Long", "Mai", "Minh", "Nga", "Phúc",
         "Quang", "Sơn", "Thảo", "Trang", "Tuấn", "Việt", "Yến"]


def log(*args) -> None:
    print(*args, file=sys.stderr, flush=True)


def templates() -> list[tuple[dict, dict]]:
    """(answers, computed) of the bundled form 2022.1 for households of 3, 4, 5 and 6 members."""
    from forms.answers import evaluate_submission
    from forms.definition import load_form

    form = load_form(json.loads((ROOT / "forms" / "bundled" / "household-review-2022.json").read_text("utf-8")))
    members = _cases("2022")["members"]
    out = []
    for size in (3, 4, 5, 6):
        answers = household_answers()
        roster = answers["members"][:min(size, 4)]
        extra = [copy.deepcopy(members["grandfather_70"]), dict(copy.deepcopy(members["son_10"]), birth_year=2016)]
        roster += extra[:max(0, size - 4)]
        for n, member in enumerate(roster):
            member["member_name"] = f"{FAMILY[n % 10]} Văn {GIVEN[n % 20]}"
        answers.update(members=roster, member_count=size)
        result = evaluate_submission(form, answers, today=datetime.date(2026, 10, 2))
        assert not result.errors, result.errors
        out.append((result.answers, result.computed))
    return out


def generate(db_url: str, *, households: int, province: str = "01", villages_per_commune: int = 10,
             year: int = 2026, previous_year: float = 0.8, earlier_visits: bool = True, enumerators: int = 50) -> dict:
    """Fill the (migrated, initialised) database at ``db_url`` (libpq URL); returns counts and timings."""
    t0 = time.perf_counter()
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("SET synchronous_commit = off")
        conn.execute("""
            INSERT INTO areas (code, parent_code, level, name, name_folded, created_at)
            SELECT c.code || '-t' || lpad(v::text, 2, '0'), c.code, 'village', 'Thôn ' || v, 'thon ' || v, now()
            FROM areas c, generate_series(1, %s) v
            WHERE c.parent_code = %s AND c.level = 'commune'
            ON CONFLICT DO NOTHING""", (villages_per_commune, province))
        conn.execute("""
            CREATE TEMP TABLE village AS
            SELECT row_number() OVER (ORDER BY code) - 1 AS n, code FROM areas
            WHERE level = 'village' AND code LIKE %s""", (f"{province}-%",))
        villages = conn.execute("SELECT count(*) FROM village").fetchone()[0]
        conn.execute("""
            INSERT INTO users (id, username, display_name, password_hash, role, active, created_at, updated_at)
            SELECT md5('enumerator' || e)::uuid, 'bulk' || e, 'Rà soát viên ' || e, 'not-a-hash', 'enumerator',
                   true, now(), now()
            FROM generate_series(1, %s) e ON CONFLICT DO NOTHING""", (enumerators,))
        conn.execute("CREATE TEMP TABLE template (k int PRIMARY KEY, answers jsonb, computed jsonb)")
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO template VALUES (%s, %s, %s)",
                            [(k, json.dumps(a, ensure_ascii=False), json.dumps(c)) for k, (a, c) in
                             enumerate(templates())])
        log(f"bulk: {villages} villages, templates ready ({time.perf_counter() - t0:.1f}s)")

        t = time.perf_counter()
        conn.execute("""
            INSERT INTO households (id, area_code, rev, answers, form_id, form_version, household_code, head_name,
                                    head_name_folded, classification, created_at, updated_at)
            SELECT md5('h' || i)::uuid, v.code, 1, '{}'::jsonb, %(form)s, %(version)s, 'HH-' || i,
                   (%(family)s::text[])[1 + i %% 10] || ' Văn ' || (%(given)s::text[])[1 + i %% 20],
                   'x', 'not_poor', now(), now()
            FROM generate_series(1, %(n)s) i JOIN village v ON v.n = i %% %(villages)s""",
                     {"form": FORM_ID, "version": FORM_VERSION, "family": FAMILY, "given": GIVEN, "n": households,
                      "villages": villages})
        log(f"bulk: {households} households ({time.perf_counter() - t:.1f}s)")

        def submissions(prefix: str, where_sql: str, year_: int, state_sql: str, class_sql: str, day_sql: str,
                        label: str) -> None:
            t = time.perf_counter()
            where_sql, state_sql, class_sql, day_sql = (
                fragment.replace("%", "%%") for fragment in (where_sql, state_sql, class_sql, day_sql))
            conn.execute(f"""
                INSERT INTO submissions (id, household_id, form_id, form_version, area_code, rev, content_hash,
                    answers, computed, year, classification, deprivation_count, income_per_person, household_code,
                    head_name_folded, enumerator_id, device_id, review_state, review_comment, reviewed_at,
                    started_at, finished_at, received_at, updated_at)
                SELECT md5('{prefix}' || i)::uuid, md5('h' || i)::uuid, %(form)s, %(version)s, v.code, 1,
                    md5('{prefix}' || i),
                    t.answers || jsonb_build_object(
                        'household_code', 'HH-' || i,
                        'head_name', (%(family)s::text[])[1 + i %% 10] || ' Văn ' || (%(given)s::text[])[1 + i %% 20],
                        'ethnicity', CASE WHEN i %% 10 = 3 THEN '02' ELSE '01' END),
                    t.computed || jsonb_build_object('dep_water', (i %% 3 = 0)::int, 'dep_latrine', (i %% 4 = 0)::int,
                        'dep_health_insurance', (i %% 5 = 0)::int, 'dep_housing_area', (i %% 6 = 0)::int),
                    {year_}, {class_sql}, (i %% 3 = 0)::int + (i %% 4 = 0)::int + (i %% 5 = 0)::int
                        + (i %% 6 = 0)::int,
                    1000000 + (i %% 50) * 50000, 'HH-' || i, 'x', md5('enumerator' || (1 + i %% %(enumerators)s))::uuid,
                    'bulk-phone', {state_sql}, NULL, NULL,
                    timestamp '{year_}-09-01 01:00' + ({day_sql}) * interval '1 day',
                    timestamp '{year_}-09-01 01:30' + ({day_sql}) * interval '1 day',
                    timestamp '{year_}-09-01 02:00' + ({day_sql}) * interval '1 day', now()
                FROM generate_series(1, %(n)s) i
                JOIN village v ON v.n = i %% %(villages)s
                JOIN template t ON t.k = i %% 4
                WHERE {where_sql}""",
                         {"n": households, "form": FORM_ID, "version": FORM_VERSION, "family": FAMILY, "given": GIVEN,
                          "villages": villages, "enumerators": enumerators})
            log(f"bulk: {label} ({time.perf_counter() - t:.1f}s)")

        classification = ("CASE WHEN i % 20 = 0 THEN 'poor' WHEN i % 20 IN (1, 2) THEN 'near_poor' "
                          "WHEN i % 20 IN (3, 4, 5) THEN 'average' ELSE 'not_poor' END")
        submissions("s", "true", year, "CASE WHEN i % 10 = 7 THEN 'received' ELSE 'approved' END", classification,
                    "20 + i % 60", f"{households} review-year visits (10 % not reviewed)")
        if earlier_visits:
            submissions("e", "i % 20 IN (9, 17)", year, "'approved'", "'poor'", "i % 15",
                        "earlier approved visits of the same year (one household in ten; for half of them the "
                        "later visit is not reviewed)")
        if previous_year:
            submissions("p", f"i % 100 < {int(previous_year * 100)}", year - 1, "'approved'",
                        "CASE WHEN i % 20 IN (0, 10) THEN 'poor' WHEN i % 20 IN (1, 2, 11) THEN 'near_poor' "
                        "WHEN i % 20 IN (3, 4) THEN 'average' ELSE 'not_poor' END", "20 + i % 60",
                        f"visits of the previous year ({previous_year:.0%} of the households)")
        # Every stored submission has its first revision, as a push writes it (the submission page
        # and the API's submission detail read them).
        t = time.perf_counter()
        conn.execute("""
            INSERT INTO submission_revisions (submission_id, rev, content_hash, form_version, answers, computed,
                source, user_id, device_id, started_at, finished_at, received_at)
            SELECT id, rev, content_hash, form_version, answers::json, computed::json, 'phone', enumerator_id,
                device_id, started_at, finished_at, received_at
            FROM submissions""")
        log(f"bulk: the submissions' first revisions ({time.perf_counter() - t:.1f}s)")
        t = time.perf_counter()
        conn.execute("VACUUM ANALYZE")
        log(f"bulk: VACUUM ANALYZE ({time.perf_counter() - t:.1f}s)")
        counts = {table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                  for table in ("areas", "households", "submissions")}
        counts["submissions_by_year"] = dict(conn.execute(
            "SELECT year, count(*) FROM submissions GROUP BY year ORDER BY year").fetchall())
        size = conn.execute("SELECT pg_size_pretty(pg_total_relation_size('submissions'))").fetchone()[0]
    return {"villages": villages, "counts": counts, "submissions_size": size, "seconds": time.perf_counter() - t0}


if __name__ == "__main__":  # pragma: no cover - a helper
    print(generate(os.environ["BULK_DATABASE_URL"], households=int(os.environ.get("BULK_HOUSEHOLDS", "1000"))))
