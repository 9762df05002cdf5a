"""Reports benchmark: the year's reports over a province of generated households, through gunicorn.

    .venv/bin/python bench/reports_bench.py [--households 500000] [--province 01]
        [--villages-per-commune 10] [--previous-year 0.8] [--repeat 5] [--json] [--keep]

1. creates a throwaway database on the PostgreSQL server of ``--database-url`` (default
   127.0.0.1:5432, user postgres) and drops it at the end (``--keep`` leaves it, and prints its URL);
2. ``rasoat init``, then ``bench/bulk_households.py`` fills it by INSERT ... SELECT generate_series
   (not timed; see that file for what the households look like), and VACUUM ANALYZE;
3. starts gunicorn (1 worker x 2 gthreads: one report at a time is what is measured) and logs in a
   national admin and the supervisor of one commune;
4. times each report over HTTP, from the request to the last byte of the answer: the province
   summary ``GET /api/v1/reports/poverty?area=<province>&year=<year>`` ``--repeat`` times (the
   first run is reported apart: nothing of it is in PostgreSQL's or the OS's cache... except what
   the load left there), then once each: the summary as CSV and XLSX and as a preview, the other
   reports of the province, and the commune's and the province's registers.

It prints the machine, the data, and per report: wall time, status, bytes, and the rows a file
or register holds. The target: the province summary over 500,000 households in under 2 s.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bulk_households import generate, log  # noqa: E402
from sync_load import (BIN, ENV, ROOT, Gunicorn, admin, cpu_since, cpu_ticks, machine,  # noqa: E402
                       machine_busy_ticks, pg_url, postgres_pids, sqlalchemy_url)

PASSWORD = "bench-password-2026"
YEAR = 2026


def accounts(db_url: str, commune: str) -> None:
    os.environ.update(ENV)
    from server import create_app
    from server.db import db
    from server.scoping import Scope
    from server.services.users import create_user

    app = create_app({"SQLALCHEMY_DATABASE_URI": sqlalchemy_url(db_url), "LOG_LEVEL": "WARNING"})
    with app.app_context():
        create_user(Scope(None), username="bench-admin", password=PASSWORD, role="admin", areas=[])
        create_user(Scope(None), username="bench-supervisor", password=PASSWORD, role="supervisor", areas=[commune])
        db.session.commit()
        db.engine.dispose()


def login(port: int, username: str) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("POST", "/api/v1/auth/login", body=orjson.dumps({"username": username, "password": PASSWORD}),
                 headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    body = response.read()
    conn.close()
    if response.status != 200:
        raise RuntimeError(f"login {username}: {response.status} {body[:300]!r}")
    return orjson.loads(body)["access_token"]


def timed_get(port: int, token: str, path: str) -> dict:
    """GET ``path``, reading the answer to its last byte; the wall time covers it all."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    t0 = time.perf_counter()
    conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
    response = conn.getresponse()
    first = None
    size, chunks = 0, []
    while chunk := response.read1(256 * 1024):
        if first is None:
            first = time.perf_counter() - t0
        size += len(chunk)
        if len(chunks) < 2 or response.getheader("Content-Type", "").startswith("application/json"):
            chunks.append(chunk)
    wall = time.perf_counter() - t0
    conn.close()
    out = {"path": path, "status": response.status, "wall_s": wall, "first_byte_s": first or wall, "bytes": size,
           "content_type": response.getheader("Content-Type")}
    body = b"".join(chunks)
    if response.status != 200:
        out["error"] = body[:300].decode(errors="replace")
    elif out["content_type"].startswith("application/json"):
        parsed = orjson.loads(body)
        out["rows"] = len(parsed["rows"])
        if parsed.get("total") and "households" in parsed["total"]:
            out["households"] = parsed["total"]["households"]
        out["counts"] = parsed.get("counts")
    elif out["content_type"].startswith("text/csv"):
        out["lines"] = None  # counted below when small enough to keep
    return out


def run(args) -> dict:
    name = args.reuse or f"rasoat_bench_{secrets.token_hex(5)}"
    db_url = pg_url(args.database_url, name)
    directory = Path(tempfile.mkdtemp(prefix="rasoat-reports-bench-"))
    env = {**os.environ, **ENV, "DATABASE_URL": sqlalchemy_url(db_url),
           "RASOAT_INSTANCE_PATH": str(directory / "instance")}
    env.pop("TEST_DATABASE_URL", None)
    if not args.reuse:
        admin(args.database_url, f'CREATE DATABASE "{name}"')
    gunicorn = Gunicorn(env, args.workers, args.threads, directory)
    try:
        t = time.perf_counter()
        subprocess.run([str(BIN / "rasoat"), "init"], cwd=ROOT, env=env, check=True, capture_output=True)
        log(f"setup: database {name}, rasoat init ({time.perf_counter() - t:.1f}s)")
        if args.reuse:
            data = _describe(db_url)
        else:
            data = generate(db_url, households=args.households, province=args.province,
                            villages_per_commune=args.villages_per_commune, year=YEAR,
                            previous_year=args.previous_year)
            accounts(db_url, _first_commune(db_url, args.province))
        log(f"data: {data}")
        gunicorn.start()
        national, supervisor = login(gunicorn.port, "bench-admin"), login(gunicorn.port, "bench-supervisor")
        base = f"/api/v1/reports/poverty?area={args.province}&year={YEAR}"
        tick = os.sysconf("SC_CLK_TCK")
        workers, busy0 = gunicorn.worker_pids(), machine_busy_ticks()
        cpu0 = (cpu_ticks(workers), cpu_ticks(postgres_pids()))
        summary_runs = [timed_get(gunicorn.port, national, base) for _ in range(args.repeat)]
        summary_cpu = {"worker": cpu_since(cpu0[0], cpu_ticks(workers)) / tick,
                       "postgres": cpu_since(cpu0[1], cpu_ticks(postgres_pids())) / tick,
                       "machine": (machine_busy_ticks() - busy0) / tick}
        others = [
            ("summary, CSV", national, base + "&format=csv"),
            ("summary, XLSX", national, base + "&format=xlsx"),
            ("summary, preview (include=unreviewed)", national, base + "&include=unreviewed"),
            ("deprivations, province", national, f"/api/v1/reports/deprivations?area={args.province}&year={YEAR}"),
            ("ethnic minorities, province", national, f"/api/v1/reports/ethnicity?area={args.province}&year={YEAR}"),
            ("change over the year, province", national,
             f"/api/v1/reports/changes?area={args.province}&year={YEAR}"),
            ("summary, the supervisor's commune", supervisor, f"/api/v1/reports/poverty?year={YEAR}"),
            ("register, commune, JSON", supervisor, f"/api/v1/reports/register?year={YEAR}"),
            ("register, commune, XLSX", supervisor, f"/api/v1/reports/register?year={YEAR}&format=xlsx"),
            ("register, province, CSV", national,
             f"/api/v1/reports/register?area={args.province}&year={YEAR}&format=csv"),
        ]
        results = []
        for label, token, path in others:
            result = timed_get(gunicorn.port, token, path)
            result["label"] = label
            results.append(result)
            log(f"{label}: {result['wall_s']:.2f}s")
        worker_peak = _peak_rss_mib(gunicorn.worker_pids())
        walls = [r["wall_s"] for r in summary_runs]
        return {
            "machine": machine(args.database_url),
            "config": {k: getattr(args, k) for k in ("households", "province", "villages_per_commune",
                                                     "previous_year", "repeat", "workers", "threads")},
            "data": data,
            "summary": {"runs": summary_runs, "first_s": walls[0], "median_s": statistics.median(walls),
                        "min_s": min(walls), "max_s": max(walls),
                        "households": summary_runs[-1].get("households"), "rows": summary_runs[-1].get("rows"),
                        "cpu_s": summary_cpu},
            "others": results,
            "worker_peak_rss_mib": worker_peak,
            "database": db_url if args.keep or args.reuse else None,
        }
    finally:
        gunicorn.stop()
        if not args.keep and not args.reuse:
            admin(args.database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(directory, ignore_errors=True)


def _describe(db_url: str) -> dict:
    """What a database made by an earlier run (``--keep``) holds."""
    import psycopg

    with psycopg.connect(db_url) as conn:
        counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                  for t in ("areas", "households", "submissions")}
        counts["submissions_by_year"] = dict(conn.execute(
            "SELECT year, count(*) FROM submissions GROUP BY year ORDER BY year").fetchall())
        villages = conn.execute("SELECT count(*) FROM areas WHERE level = 'village'").fetchone()[0]
        size = conn.execute("SELECT pg_size_pretty(pg_total_relation_size('submissions'))").fetchone()[0]
    return {"villages": villages, "counts": counts, "submissions_size": size, "seconds": 0.0}


def _first_commune(db_url: str, province: str) -> str:
    import psycopg

    with psycopg.connect(db_url) as conn:
        return conn.execute("SELECT min(code) FROM areas WHERE parent_code = %s", (province,)).fetchone()[0]


def _peak_rss_mib(pids: list[int]) -> float | None:
    peaks = []
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks.append(int(line.split()[1]) / 1024)
        except OSError:
            continue
    return max(peaks) if peaks else None


def report(s: dict) -> str:
    m, c, d, summary = s["machine"], s["config"], s["data"], s["summary"]
    lines = [
        f"machine: {m['nproc']} cpu ({m['cpu']}), {m['ram_gib']} GiB, Python {m['python']}, "
        f"PostgreSQL {m['postgresql']}, {m['date']}",
        f"data: {c['households']:,} households in province {c['province']} ({d['villages']:,} villages), "
        f"{d['counts']['submissions']:,} submissions {d['counts']['submissions_by_year']} "
        f"({d['submissions_size']}), generated in {d['seconds']:.0f}s",
        f"gunicorn: {c['workers']} worker x {c['threads']} threads",
        "",
        f"province summary (GET /api/v1/reports/poverty?area={c['province']}&year={YEAR}), {c['repeat']} runs: "
        f"first {summary['first_s']:.3f}s, median {summary['median_s']:.3f}s, min {summary['min_s']:.3f}s, "
        f"max {summary['max_s']:.3f}s; {summary['rows']} rows (communes), {summary['households']:,} households "
        f"counted",
        f"  CPU during those runs: worker {summary['cpu_s']['worker']:.2f}s, PostgreSQL {summary['cpu_s']['postgres']:.2f}s "
        f"(every PostgreSQL process of the machine), the whole machine {summary['cpu_s']['machine']:.2f}s of "
        f"{sum(r['wall_s'] for r in summary['runs']) * (m['nproc'] or 1):.2f}s available",
        "",
        f"{'report':42} {'wall s':>8} {'status':>6} {'bytes':>12}  rows / households",
    ]
    for r in s["others"]:
        extra = ""
        if "rows" in r:
            extra = f"{r['rows']:,} rows" + (f", {r['households']:,} households" if "households" in r else "")
        lines.append(f"{r['label']:42} {r['wall_s']:8.3f} {r['status']:>6} {r['bytes']:>12,}  {extra}"
                     + (f"  ERROR {r['error']}" if "error" in r else ""))
    if s["worker_peak_rss_mib"]:
        lines.append(f"\ngunicorn worker peak RSS (VmHWM, whole run): {s['worker_peak_rss_mib']:.0f} MiB")
    if s["database"]:
        lines.append(f"database kept: {s['database']}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--households", type=int, default=500_000)
    parser.add_argument("--province", default="01")
    parser.add_argument("--villages-per-commune", type=int, default=10)
    parser.add_argument("--previous-year", type=float, default=0.8,
                        help="share of the households with an approved visit of the year before")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--keep", action="store_true", help="keep the database (to look at query plans)")
    parser.add_argument("--reuse", metavar="DATABASE",
                        help="run the reports on a database a --keep run left (migrated to head first; kept)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    summary = run(args)
    print(json.dumps(summary, indent=2, ensure_ascii=False, default=str) if args.json else report(summary))
    failed = [r for r in [*summary["summary"]["runs"], *summary["others"]] if r["status"] != 200]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
